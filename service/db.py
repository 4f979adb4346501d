"""MySQL connection pools and the routing of each query to a writer, a reader or a
shard. Every statement is parameterised; callers pass SQL text and arguments. Pools sign
in with rotating credentials (service/credentials.py): when those change, a pool opens a
new connection pool with them and drains the old one, without failing a query."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncmy
from asyncmy.errors import IntegrityError, OperationalError

from service import telemetry
from service.config import DbEndpoint, Settings
from service.context import record
from service.credentials import ACCESS_DENIED, RotatingCredentials, UserPassword

WRITER = "writer"
READER = "reader"

__all__ = ["READER", "WRITER", "Database", "IntegrityError", "Pool", "create_pool"]


log = logging.getLogger(__name__)


def _access_denied(exc: OperationalError) -> bool:
    return bool(exc.args) and exc.args[0] == ACCESS_DENIED


class Pool:
    """A small facade over an asyncmy pool, named for the response headers. Given
    `credentials`, it follows their rotation: a stale secret is re-read before a
    checkout, a refused password makes it re-read at once and retry, and a change swaps
    in a new asyncmy pool while the old one's connections finish their queries."""

    def __init__(
        self,
        raw: Any,
        route: str,
        shard: str | None = None,
        *,
        endpoint: DbEndpoint | None = None,
        size: int = 1,
        credentials: RotatingCredentials | None = None,
    ) -> None:
        self._raw = raw
        self.route = route
        self.shard = shard
        self._endpoint = endpoint
        self._size = size
        self._credentials = credentials
        self._version = credentials.version if credentials else 0
        self._swap_lock = asyncio.Lock()
        self._draining: set[asyncio.Task[None]] = set()
        self._span_attributes = telemetry.db_attributes(
            host=endpoint.host if endpoint else "",
            port=endpoint.port if endpoint else 0,
            database=endpoint.database if endpoint else "",
            route=route,
            shard=shard,
        )

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        credentials = self._credentials
        if credentials is not None and credentials.stale():
            await credentials.refresh()
        await self._follow_credentials()
        raw = self._raw
        try:
            conn = await raw.acquire()
        except OperationalError as exc:
            if credentials is None or not _access_denied(exc):
                raise
            log.info("database refused the %s pool's password; re-reading its secret", self.route)
            await credentials.refresh(force=True, seen_version=self._version)
            await self._follow_credentials()
            raw = self._raw
            conn = await raw.acquire()
        except RuntimeError:
            # The pool was swapped (and closed) between reading it and checking out.
            if raw is self._raw:
                raise
            raw = self._raw
            conn = await raw.acquire()
        try:
            yield conn
        finally:
            raw.release(conn)

    async def _follow_credentials(self) -> None:
        credentials = self._credentials
        if credentials is None or credentials.version == self._version:
            return
        async with self._swap_lock:
            if credentials.version == self._version:
                return
            assert self._endpoint is not None
            current = credentials.current
            endpoint = dataclasses.replace(self._endpoint, user=current.user, password=current.password)
            fresh = await create_pool(endpoint, self._size)
            old, self._raw, self._version = self._raw, fresh, credentials.version
            log.info("%s pool now signs in as %s; draining the old connections", self.route, current.user)
            old.close()
            task = asyncio.ensure_future(old.wait_closed())
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        record(self)
        with telemetry.db_span(sql, self._span_attributes):
            async with self._connection() as conn, conn.cursor() as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall())

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, args)
        return rows[0] if rows else None

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> tuple[int, int]:
        """Returns (affected rows, last insert id)."""
        record(self)
        with telemetry.db_span(sql, self._span_attributes):
            async with self._connection() as conn, conn.cursor() as cur:
                affected = await cur.execute(sql, args)
                return affected, cur.lastrowid

    async def close(self) -> None:
        self._raw.close()
        await self._raw.wait_closed()
        if self._draining:
            await asyncio.gather(*self._draining)


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
    """The user directory (users, sessions) lives on the writer and its readers; the
    shards hold user-owned rows, placed by ``service.placement.Locator``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.writer: Pool | None = None
        self.readers: list[Pool] = []
        self._next_reader = itertools.count()
        self.shards: dict[str, Pool] = {}

    async def open(self) -> None:
        s = self._settings
        assert s.writer is not None
        writer_credentials = self._credentials(s.writer)
        self.writer = await self._pool(s.writer, writer_credentials, WRITER)
        for endpoint in s.readers:
            # Replicas replicate the writer's users: one secret, read once for all of them.
            self.readers.append(await self._pool(endpoint, writer_credentials, READER))
        for shard in s.shards:
            credentials = self._credentials(shard.endpoint)
            self.shards[shard.id] = await self._pool(shard.endpoint, credentials, WRITER, shard.id)

    def _credentials(self, endpoint: DbEndpoint) -> RotatingCredentials:
        return RotatingCredentials(
            UserPassword(endpoint.user, endpoint.password),
            secret_arn=endpoint.secret_arn,
            reader=self._settings.secret_reader,
            max_age_seconds=self._settings.credentials_max_age_seconds,
        )

    async def _pool(
        self, endpoint: DbEndpoint, credentials: RotatingCredentials, route: str, shard: str | None = None
    ) -> Pool:
        raw = await create_pool(endpoint, self._settings.db_pool_size)
        return Pool(raw, route, shard, endpoint=endpoint, size=self._settings.db_pool_size, credentials=credentials)

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
