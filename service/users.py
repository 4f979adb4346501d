"""The user directory (users table on the primary, its readers) and user-owned
rows: profiles and follows (on the user's shard when sharded)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from service.context import RequestContext
from service.db import WRITER, Database, IntegrityError
from service.placement import Locator
from service.posts import iso, parse_iso

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


class UserRows:
    """Profiles and follows: user-owned rows, on the database a placement gives them
    (the primary, or the user's shard). Writes carry their timestamp so a copy made by
    the data migration and a write made meanwhile converge on the newest."""

    def __init__(self, locate: Locator) -> None:
        self._locate = locate

    async def profile(self, ctx: RequestContext, user_id: int, route: str) -> dict[str, Any] | None:
        pool = ctx.used(self._locate.for_user(user_id, route))
        row = await pool.fetchone("SELECT display_name, bio FROM profiles WHERE user_id = %s", (user_id,))
        return {"display_name": row[0], "bio": row[1]} if row else None

    async def put_profile(
        self, ctx: RequestContext, user_id: int, display_name: str, bio: str, updated_at: datetime
    ) -> None:
        pool = ctx.used(self._locate.for_user(user_id, WRITER))
        # Newest wins, so a migration's copy never overwrites a later edit; updated_at last,
        # because MySQL evaluates the assignments in order.
        await pool.execute(
            "INSERT INTO profiles (user_id, display_name, bio, updated_at) VALUES (%s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE"
            " display_name = IF(VALUES(updated_at) >= updated_at, VALUES(display_name), display_name),"
            " bio = IF(VALUES(updated_at) >= updated_at, VALUES(bio), bio),"
            " updated_at = GREATEST(updated_at, VALUES(updated_at))",
            (user_id, display_name, bio, updated_at.replace(tzinfo=None)),
        )

    async def follow(self, ctx: RequestContext, follower: int, followee: int, created_at: datetime) -> None:
        pool = ctx.used(self._locate.for_user(follower, WRITER))
        await pool.execute(
            "INSERT IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (%s, %s, %s)",
            (follower, followee, created_at.replace(tzinfo=None)),
        )

    async def unfollow(self, ctx: RequestContext, follower: int, followee: int) -> bool:
        pool = ctx.used(self._locate.for_user(follower, WRITER))
        affected, _ = await pool.execute(
            "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s", (follower, followee)
        )
        return affected > 0

    async def followees(self, ctx: RequestContext, follower: int, route: str, cap: int) -> list[int]:
        """Follows live with the follower's data, on the follower's shard."""
        pool = ctx.used(self._locate.for_user(follower, route))
        rows = await pool.fetchall(
            "SELECT followee_id FROM follows WHERE follower_id = %s ORDER BY created_at DESC LIMIT %s",
            (follower, cap),
        )
        return [int(row[0]) for row in rows]

    async def records(self, user_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Every profile and follow of these users, as the data migration compares them."""
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for pool, ids in self._locate.by_pool(user_ids, WRITER):
            marks = ", ".join(["%s"] * len(ids))
            for row in await pool.fetchall(
                f"SELECT user_id, display_name, bio, updated_at FROM profiles WHERE user_id IN ({marks})", ids
            ):
                found[("profile", int(row[0]))] = (row[1], row[2], iso(row[3].replace(tzinfo=UTC)))
            for row in await pool.fetchall(
                f"SELECT follower_id, followee_id, created_at FROM follows WHERE follower_id IN ({marks})", ids
            ):
                found[("follow", int(row[0]), int(row[1]))] = (iso(row[2].replace(tzinfo=UTC)),)
        return found

    async def put_record(self, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        ctx = RequestContext()
        if key[0] == "profile":
            await self.put_profile(ctx, key[1], value[0], value[1], parse_iso(value[2]))
        else:
            await self.follow(ctx, key[1], key[2], parse_iso(value[0]))

    async def delete_record(self, key: tuple[Any, ...]) -> None:
        if key[0] == "profile":
            pool = self._locate.for_user(key[1], WRITER)
            await pool.execute("DELETE FROM profiles WHERE user_id = %s", (key[1],))
        else:
            await self.unfollow(RequestContext(), key[1], key[2])


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
