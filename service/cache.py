"""Cache-aside over Redis, and the "recent writer" marker behind read-your-writes.

After a write to user U's data, the service bumps the counter ``rw:U`` (it expires
after READ_YOUR_WRITES_SECONDS) and deletes U's cached entries in one transaction.
While the marker exists, reads of U's data go to the writer, so U (and everyone
else) sees the write despite replica lag. A cache fill is a script that stores the
value only if the marker still holds what the reader saw before it queried, so a
read that raced a write can never put the old value back.

A replica may lag longer than the marker lives. So each write also leaves ``lw:U``
for as long as any fill lives (CACHE_TTL_SECONDS), and a fill read from a replica
while it exists is kept at most READ_YOUR_WRITES_SECONDS: a page that misses U's
write is never cached for longer than read-your-writes protects U. A hash of pages
never has its expiry extended (EXPIRE ... LT), so an older page cannot outlive its
own fill's TTL either."""

from __future__ import annotations

import time

import redis.asyncio as redis

from service.config import CacheConfig

# A read and the owner's marker in one command: a script call costs the service less
# CPU than a two-command pipeline (profiled: the pipeline object, its command stack and
# its retry wrapper were the largest share of a cache hit's own Python work), and the
# two values are read atomically.
_LOOKUP = """
local value
if ARGV[1] == '' then
  value = redis.call('GET', KEYS[1])
else
  value = redis.call('HGET', KEYS[1], ARGV[1])
end
return {value, redis.call('GET', KEYS[2])}
"""

_FILL = """
local seen = redis.call('GET', KEYS[2])
if (seen or '') ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[4])
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  ttl = math.min(ttl, tonumber(ARGV[6]))
end
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ttl, 'LT')
end
return ttl
"""


def connect(config: CacheConfig) -> redis.Redis:
    return redis.Redis(
        host=config.host,
        port=config.port,
        password=config.password,
        ssl=config.tls,
        socket_connect_timeout=5,
        socket_timeout=5,
        health_check_interval=30,
        max_connections=64,
    )


class Cache:
    def __init__(self, client: redis.Redis, prefix: str, ttl: int, ryw_seconds: int) -> None:
        self.client = client
        self._prefix = prefix
        self._ttl = ttl
        self._ryw = ryw_seconds
        self._lookup = client.register_script(_LOOKUP)
        self._fill = client.register_script(_FILL)

    def key(self, name: str) -> str:
        return self._prefix + name

    def _marker(self, owner: int) -> str:
        return f"{self._prefix}rw:{owner}"

    def _wrote_lately(self, owner: int) -> str:
        return f"{self._prefix}lw:{owner}"

    async def lookup(self, name: str, field: str | None, owner: int) -> tuple[bytes | None, bytes]:
        """One round trip: the cached value (or None) and the owner's marker as seen
        now (b"" when absent), which the fill must present again."""
        value, marker = await self._lookup(keys=[self.key(name), self._marker(owner)], args=[field or ""])
        return value, marker or b""

    async def fill(
        self,
        name: str,
        field: str | None,
        value: bytes,
        owner: int,
        seen: bytes,
        ttl: int | None = None,
        from_replica: bool = False,
    ) -> int:
        """Stores the value unless a write raced the read; returns the TTL it got (0: not stored)."""
        keys = [self.key(name), self._marker(owner), self._wrote_lately(owner)]
        args: list[bytes | str | int] = [seen, field or "", value, ttl or self._ttl, int(from_replica), self._ryw]
        return int(await self._fill(keys=keys, args=args))

    async def wrote(self, owner: int, names: list[str]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(self._marker(owner))
        pipe.expire(self._marker(owner), self._ryw)
        pipe.set(self._wrote_lately(owner), 1, ex=self._ttl)
        if names:
            pipe.delete(*[self.key(n) for n in names])
        await pipe.execute()

    async def close(self) -> None:
        await self.client.aclose()


class LocalMarkers:
    """Recent-writer markers without a cache: this instance routes its own recent
    writers to the writer; other instances cannot see them."""

    def __init__(self, ryw_seconds: int) -> None:
        self._ryw = ryw_seconds
        self._until: dict[int, float] = {}

    def wrote(self, owner: int) -> None:
        now = time.monotonic()
        if len(self._until) > 10000:
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[owner] = now + self._ryw

    def recent(self, owner: int) -> bool:
        until = self._until.get(owner)
        return until is not None and until > time.monotonic()
