"""What one request did, for the X-Cache, X-DB-Route and X-Shard headers."""

from __future__ import annotations

from service.db import WRITER, Pool


class RequestContext:
    __slots__ = ("cache", "route", "shard")

    def __init__(self) -> None:
        self.cache = "bypass"
        self.route = "none"
        self.shard: str | None = None

    def used(self, pool: Pool) -> Pool:
        self.note_route(pool.route)
        if pool.shard is not None:
            self.shard = pool.shard
        return pool

    def note_route(self, route: str) -> None:
        # Writer wins: if any read of the response went to the writer, say so.
        if self.route != WRITER:
            self.route = route
