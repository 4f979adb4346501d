"""What one request did, for the X-Cache, X-DB-Route and X-Shard headers.

The middleware makes a context current for each request; every query a ``Pool`` runs
records itself in it (``record``), so the headers name every database that served
the request, including those that handlers do not route themselves, like sessions."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.db import Pool

# The header lists the kinds of endpoint in this order.
_ROUTE_ORDER = ("writer", "reader")


class RequestContext:
    __slots__ = ("_routes", "_shards", "cache")

    def __init__(self) -> None:
        self.cache = "bypass"
        self._routes: set[str] = set()
        self._shards: set[str] = set()

    def used(self, pool: Pool) -> Pool:
        self.note_route(pool.route)
        if pool.shard is not None:
            self._shards.add(pool.shard)
        return pool

    def note_route(self, route: str) -> None:
        self._routes.add(route)

    @property
    def route(self) -> str:
        """``writer``, ``reader``, ``writer, reader``, or ``none``."""
        return ", ".join(r for r in _ROUTE_ORDER if r in self._routes) or "none"

    @property
    def shard(self) -> str | None:
        """Every shard touched, sorted and comma-separated; None when none was."""
        return ", ".join(sorted(self._shards)) or None


_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def begin() -> RequestContext:
    """A new context for the request being served by the current task (and the tasks it starts)."""
    ctx = RequestContext()
    _current.set(ctx)
    return ctx


def record(pool: Pool) -> None:
    """Notes that ``pool`` served the current request, if a request is being served."""
    ctx = _current.get()
    if ctx is not None:
        ctx.used(pool)
