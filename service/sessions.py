"""Server-side sessions keyed by the SHA-256 of a random cookie token, so a copy of
the store does not hold usable tokens. In Redis when the cache is configured (any
instance serves any user), otherwise in the directory database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

import orjson

from service.cache import Cache
from service.db import WRITER, Database

COOKIE = "sid"


@dataclass(frozen=True)
class Session:
    user_id: int
    username: str


def new_token() -> tuple[str, bytes]:
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).digest()


def token_hash(token: str) -> bytes | None:
    if not token or len(token) > 128:
        return None
    return hashlib.sha256(token.encode()).digest()


class SessionStore(Protocol):
    async def create(self, session: Session) -> str: ...
    async def get(self, token: str) -> Session | None: ...
    async def delete(self, token: str) -> None: ...


class RedisSessions:
    """With ``fallback`` (the database store of stages 0-2), a cookie Redis does not know
    is looked up there, so sessions issued before the upgrade to stage 3 stay valid
    until they expire; new sessions are written to both, so hosts still on the old
    wiring during the roll accept them too."""

    def __init__(self, cache: Cache, ttl: int, fallback: SqlSessions | None = None) -> None:
        self._cache = cache
        self._ttl = ttl
        self._fallback = fallback

    def _key(self, digest: bytes) -> str:
        return self._cache.key("sess:" + digest.hex())

    async def create(self, session: Session) -> str:
        token, digest = new_token()
        value = orjson.dumps({"user_id": session.user_id, "username": session.username})
        await self._cache.client.set(self._key(digest), value, ex=self._ttl)
        if self._fallback is not None:
            await self._fallback.store(digest, session)
        return token

    async def get(self, token: str) -> Session | None:
        digest = token_hash(token)
        if digest is None:
            return None
        raw = await self._cache.client.get(self._key(digest))
        if raw is None:
            return await self._fallback.get(token) if self._fallback is not None else None
        data = orjson.loads(raw)
        return Session(int(data["user_id"]), str(data["username"]))

    async def delete(self, token: str) -> None:
        digest = token_hash(token)
        if digest is not None:
            await self._cache.client.delete(self._key(digest))
        if self._fallback is not None:
            await self._fallback.delete(token)


class SqlSessions:
    """Always on the writer: a session is read right after it is written."""

    def __init__(self, db: Database, ttl: int) -> None:
        self._db = db
        self._ttl = ttl

    async def create(self, session: Session) -> str:
        token, digest = new_token()
        await self.store(digest, session)
        return token

    async def store(self, digest: bytes, session: Session) -> None:
        pool = self._db.directory(WRITER)
        # Expired sessions are swept a few at a time as new ones are made.
        await pool.execute("DELETE FROM sessions WHERE expires_at < UTC_TIMESTAMP() LIMIT 20")
        await pool.execute(
            "INSERT INTO sessions (token_hash, user_id, username, expires_at)"
            " VALUES (%s, %s, %s, UTC_TIMESTAMP() + INTERVAL %s SECOND)",
            (digest, session.user_id, session.username, self._ttl),
        )

    async def get(self, token: str) -> Session | None:
        digest = token_hash(token)
        if digest is None:
            return None
        row = await self._db.directory(WRITER).fetchone(
            "SELECT user_id, username FROM sessions WHERE token_hash = %s AND expires_at > UTC_TIMESTAMP()",
            (digest,),
        )
        return Session(int(row[0]), row[1]) if row else None

    async def delete(self, token: str) -> None:
        digest = token_hash(token)
        if digest is not None:
            await self._db.directory(WRITER).execute("DELETE FROM sessions WHERE token_hash = %s", (digest,))
