"""The user directory (users table on the primary, its readers) and user-owned
profiles (on the user's shard when sharded)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import httpx
import orjson

from service.context import RequestContext
from service.db import WRITER, Database, IntegrityError
from service.posts import iso, now_utc

_DUPLICATE_KEY = 1062


class Directory:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, ctx: RequestContext, username: str, password_hash: str) -> int | None:
        """The new user's id, or None when the username is taken."""
        pool = ctx.used(self._db.directory(WRITER))
        try:
            _, user_id = await pool.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, %s)",
                (username, password_hash),
            )
        except IntegrityError as exc:
            if exc.args and exc.args[0] == _DUPLICATE_KEY:
                return None
            raise
        return int(user_id)

    async def credentials(self, ctx: RequestContext, username: str) -> tuple[int, str, str] | None:
        """(id, username as stored, password hash). Sign-in reads the writer: a user
        who just signed up must be able to sign in."""
        pool = ctx.used(self._db.directory(WRITER))
        row = await pool.fetchone("SELECT id, username, password_hash FROM users WHERE username = %s", (username,))
        return (int(row[0]), row[1], row[2]) if row else None

    async def summary(self, ctx: RequestContext, user_id: int, route: str) -> dict[str, Any] | None:
        pool = ctx.used(self._db.directory(route))
        row = await pool.fetchone("SELECT id, username, created_at FROM users WHERE id = %s", (user_id,))
        if row is None:
            return None
        return {
            "id": int(row[0]),
            "username": row[1],
            "created_at": iso(row[2].replace(tzinfo=UTC)),
        }

    async def profile(self, ctx: RequestContext, user_id: int, route: str) -> dict[str, Any] | None:
        pool = ctx.used(self._db.for_user(user_id, route))
        row = await pool.fetchone("SELECT display_name, bio FROM profiles WHERE user_id = %s", (user_id,))
        return {"display_name": row[0], "bio": row[1]} if row else None

    async def put_profile(self, ctx: RequestContext, user_id: int, display_name: str, bio: str) -> None:
        pool = ctx.used(self._db.for_user(user_id, WRITER))
        await pool.execute(
            "INSERT INTO profiles (user_id, display_name, bio, updated_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE display_name = VALUES(display_name),"
            " bio = VALUES(bio), updated_at = VALUES(updated_at)",
            (user_id, display_name, bio, now_utc().replace(tzinfo=None)),
        )

    async def follow(self, ctx: RequestContext, follower: int, followee: int) -> None:
        pool = ctx.used(self._db.for_user(follower, WRITER))
        await pool.execute(
            "INSERT IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (%s, %s, %s)",
            (follower, followee, now_utc().replace(tzinfo=None)),
        )

    async def unfollow(self, ctx: RequestContext, follower: int, followee: int) -> bool:
        pool = ctx.used(self._db.for_user(follower, WRITER))
        affected, _ = await pool.execute(
            "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s", (follower, followee)
        )
        return affected > 0

    async def followees(self, ctx: RequestContext, follower: int, route: str, cap: int) -> list[int]:
        """Follows live with the follower's data, on the follower's shard."""
        pool = ctx.used(self._db.for_user(follower, route))
        rows = await pool.fetchall(
            "SELECT followee_id FROM follows WHERE follower_id = %s ORDER BY created_at DESC LIMIT %s",
            (follower, cap),
        )
        return [int(row[0]) for row in rows]


class PeerUsers:
    """The users service, reached by its Cloud Map name when this one serves posts."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=3.0)

    async def summary(self, user_id: int) -> dict[str, Any] | None:
        response = await self._client.get(f"/users/{user_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        user = orjson.loads(response.content)
        return {k: user[k] for k in ("id", "username", "created_at")}

    async def close(self) -> None:
        await self._client.aclose()
