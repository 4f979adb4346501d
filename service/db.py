"""MySQL connection pools and the routing of each query to a writer, a reader or a
shard. Every statement is parameterised; callers pass SQL text and arguments."""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Sequence
from typing import Any

import asyncmy
from asyncmy.errors import IntegrityError

from service import shardmap
from service.config import DbEndpoint, Settings
from service.context import record

WRITER = "writer"
READER = "reader"

__all__ = ["READER", "WRITER", "Database", "IntegrityError", "Pool", "create_pool"]


class Pool:
    """A small facade over an asyncmy pool, named for the response headers."""

    def __init__(self, raw: Any, route: str, shard: str | None = None) -> None:
        self._raw = raw
        self.route = route
        self.shard = shard

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        record(self)
        async with self._raw.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, args)
        return rows[0] if rows else None

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> tuple[int, int]:
        """Returns (affected rows, last insert id)."""
        record(self)
        async with self._raw.acquire() as conn, conn.cursor() as cur:
            affected = await cur.execute(sql, args)
            return affected, cur.lastrowid

    async def close(self) -> None:
        self._raw.close()
        await self._raw.wait_closed()


async def create_pool(endpoint: DbEndpoint, size: int, database: bool = True) -> Any:
    return await asyncmy.create_pool(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        db=endpoint.database if database else None,
        minsize=1,
        maxsize=size,
        autocommit=True,
        charset="utf8mb4",
        pool_recycle=600,
        connect_timeout=5,
        ssl=ssl.create_default_context(cafile=endpoint.tls_ca_file) if endpoint.tls_ca_file else None,
    )


class Database:
    """The user directory (users, sessions) lives on the writer and its readers.
    User-owned rows (profiles, and posts when they are not in DynamoDB) live on the
    user's shard when a shard map is configured, otherwise beside the directory."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.writer: Pool | None = None
        self.readers: list[Pool] = []
        self._next_reader = itertools.count()
        self.shards: dict[str, Pool] = {}
        self._owners: list[str] = []

    async def open(self) -> None:
        s = self._settings
        assert s.writer is not None
        self.writer = Pool(await create_pool(s.writer, s.db_pool_size), WRITER)
        for endpoint in s.readers:
            self.readers.append(Pool(await create_pool(endpoint, s.db_pool_size), READER))
        for shard in s.shards:
            raw = await create_pool(shard.endpoint, s.db_pool_size)
            self.shards[shard.id] = Pool(raw, WRITER, shard.id)
        if s.shard_map is not None:
            self._owners = shardmap.owners(s.shard_map)

    async def close(self) -> None:
        for pool in [self.writer, *self.readers, *self.shards.values()]:
            if pool is not None:
                await pool.close()

    @property
    def has_readers(self) -> bool:
        return bool(self.readers)

    def directory(self, route: str) -> Pool:
        assert self.writer is not None
        if route == READER and self.readers:
            return self.readers[next(self._next_reader) % len(self.readers)]
        return self.writer

    def shard_id_for(self, user_id: int) -> str | None:
        if not self._owners:
            return None
        return self._owners[shardmap.bucket_for(user_id, len(self._owners))]

    def by_pool(self, user_ids: list[int], route: str) -> list[tuple[Pool, list[int]]]:
        """Groups users by the database holding their rows: one query per group."""
        if not self._owners:
            return [(self.directory(route), user_ids)] if user_ids else []
        groups: dict[str, list[int]] = {}
        for user_id in user_ids:
            groups.setdefault(self._owners[shardmap.bucket_for(user_id, len(self._owners))], []).append(user_id)
        return [(self.shards[shard_id], ids) for shard_id, ids in groups.items()]

    def for_user(self, user_id: int, route: str) -> Pool:
        shard_id = self.shard_id_for(user_id)
        if shard_id is None:
            return self.directory(route)
        return self.shards[shard_id]
