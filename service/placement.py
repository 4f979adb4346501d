"""Where user-owned rows live (the placement), where the fleet has them now, and the
mode each host serves in while they move.

A placement names the owner of every logical bucket (a shard id, or the primary when
there is no shard map) and where posts live (MySQL beside the user's other rows, or a
DynamoDB table). The primary's ``data_placement`` row records the placement whose data
is complete: the source of truth. A host whose own wiring places data elsewhere serves
in one of two modes until the data migration (``service/migration.py``) records its
placement there:

- ``migrating``: reads from the recorded placement (which hosts on the old wiring still
  write), writes to it and then to its own;
- ``switching``: the migration has verified both and every host runs the new wiring;
  reads come from its own placement, writes still go to both, so a host that has not
  yet seen the switch reads nothing stale. The migration stops the writes to the old
  placement only once every host's heartbeat reports this mode.

Every host also writes a heartbeat (``service_hosts``) naming its placement and whether
it has the cache, so the migration knows when no host on another wiring is left, and a
cache-wired host knows when it can trust the cache (no host that skips invalidation
still writes)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from service import shardmap
from service.config import Settings
from service.db import WRITER, Database, Pool

log = logging.getLogger("service.placement")

SETTLED, MIGRATING, SWITCHING = "settled", "migrating", "switching"
MYSQL_POSTS = "mysql"
# A host that stops gracefully removes its heartbeat; one that died counts until it has
# been silent this long (several poll intervals at any setting).
HOST_SILENT_SECONDS = 30.0


@dataclass(frozen=True)
class Placement:
    """``owners[bucket]`` is a shard id, or None for all on the primary; ``posts`` is
    ``mysql`` or ``dynamodb:<table>``."""

    owners: tuple[str, ...] | None
    posts: str = MYSQL_POSTS

    @classmethod
    def of(cls, settings: Settings) -> Placement:
        owners = tuple(shardmap.owners(settings.shard_map)) if settings.shard_map is not None else None
        return cls(owners, f"dynamodb:{settings.posts_table}" if settings.posts_table else MYSQL_POSTS)

    @classmethod
    def primary(cls) -> Placement:
        return cls(None, MYSQL_POSTS)

    def to_json(self) -> str:
        ranges: list[list[Any]] | None = None
        if self.owners is not None:
            ranges = []
            for bucket, shard in enumerate(self.owners):
                if ranges and ranges[-1][2] == shard:
                    ranges[-1][1] = bucket
                else:
                    ranges.append([bucket, bucket, shard])
        buckets = len(self.owners) if self.owners is not None else None
        return json.dumps({"buckets": buckets, "ranges": ranges, "posts": self.posts}, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> Placement:
        if not raw:
            return cls.primary()
        data = json.loads(raw)
        if data["ranges"] is None:
            return cls(None, data["posts"])
        owners: list[str] = [""] * data["buckets"]
        for first, last, shard in data["ranges"]:
            owners[first : last + 1] = [shard] * (last - first + 1)
        return cls(tuple(owners), data["posts"])

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def owner(self, bucket: int) -> str | None:
        return None if self.owners is None else self.owners[bucket]

    def bucket_count(self, other: Placement) -> int:
        """Buckets are counted in the sharded placement's terms (the primary has one)."""
        for placement in (self, other):
            if placement.owners is not None:
                return len(placement.owners)
        return shardmap.DEFAULT_LOGICAL_BUCKETS

    def moving_buckets(self, target: Placement) -> list[int]:
        """Buckets whose rows live somewhere else under ``target``."""
        count = self.bucket_count(target)
        if self.posts != target.posts:
            return list(range(count))
        return [b for b in range(count) if self.owner(b) != target.owner(b)]


async def live_hosts(db: Database) -> list[str]:
    rows = await db.directory(WRITER).fetchall(
        "SELECT instance_id FROM service_hosts WHERE seen_at > UTC_TIMESTAMP(3) - INTERVAL %s MICROSECOND",
        (int(HOST_SILENT_SECONDS * 1_000_000),),
    )
    return [row[0] for row in rows]


class Locator:
    """The database holding a user's rows under one placement."""

    def __init__(self, db: Database, placement: Placement) -> None:
        self._db = db
        self._owners = placement.owners

    def for_user(self, user_id: int, route: str) -> Pool:
        if self._owners is None:
            return self._db.directory(route)
        return self._db.shards[self._owners[shardmap.bucket_for(user_id, len(self._owners))]]

    def by_pool(self, user_ids: list[int], route: str) -> list[tuple[Pool, list[int]]]:
        """Groups users by the database holding their rows: one query per group."""
        if self._owners is None:
            return [(self._db.directory(route), user_ids)] if user_ids else []
        groups: dict[str, list[int]] = {}
        for user_id in user_ids:
            groups.setdefault(self._owners[shardmap.bucket_for(user_id, len(self._owners))], []).append(user_id)
        return [(self._db.shards[shard_id], ids) for shard_id, ids in groups.items()]


@dataclass(frozen=True)
class PlacementState:
    current: Placement
    target: Placement | None
    phase: str
    previous: Placement | None


async def read_state(db: Database) -> PlacementState:
    row = await db.directory(WRITER).fetchone(
        "SELECT current_placement, target_placement, phase, previous_placement FROM data_placement WHERE id = 1"
    )
    if row is None:
        return PlacementState(Placement.primary(), None, "done", None)
    target = Placement.from_json(row[1]) if row[1] else None
    previous = Placement.from_json(row[3]) if row[3] else None
    return PlacementState(Placement.from_json(row[0]), target, row[2], previous)


async def write_state(db: Database, state: PlacementState) -> None:
    await db.directory(WRITER).execute(
        "INSERT INTO data_placement (id, current_placement, target_placement, phase, previous_placement)"
        " VALUES (1, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE current_placement = VALUES(current_placement),"
        " target_placement = VALUES(target_placement), phase = VALUES(phase),"
        " previous_placement = VALUES(previous_placement)",
        (
            state.current.to_json(),
            state.target.to_json() if state.target else None,
            state.phase,
            state.previous.to_json() if state.previous else None,
        ),
    )


async def other_hosts(db: Database, fingerprint: str, mode: str | None = None) -> list[str]:
    """Hosts seen lately whose placement differs from ``fingerprint`` or, with ``mode``,
    hosts on it that still serve in that mode."""
    condition = "placement <> %s" if mode is None else "placement = %s AND mode = %s"
    args: tuple[object, ...] = (fingerprint,) if mode is None else (fingerprint, mode)
    rows = await db.directory(WRITER).fetchall(
        f"SELECT instance_id FROM service_hosts WHERE {condition}"
        " AND seen_at > UTC_TIMESTAMP(3) - INTERVAL %s MICROSECOND",
        (*args, int(HOST_SILENT_SECONDS * 1_000_000)),
    )
    return [row[0] for row in rows]


class PlacementView:
    """This host's view of the recorded placement, refreshed every poll interval, with
    the heartbeat; ``mode`` tells the data paths where to read and write."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self.own = Placement.of(settings)
        self.state = PlacementState(Placement.primary(), None, "done", None)
        self._task: asyncio.Task[None] | None = None
        # False while hosts without the cache (stage 2 during the roll to 3) still write:
        # they neither invalidate entries nor mark recent writers, so reads go to the writer.
        self.cache_safe = True

    @property
    def source(self) -> Placement:
        return self.state.current

    @property
    def mode(self) -> str:
        if self.state.current == self.own:
            return SETTLED
        if self.state.target == self.own and self.state.phase == "switch":
            return SWITCHING
        return MIGRATING

    @property
    def reads_own(self) -> bool:
        return self.mode != MIGRATING

    @property
    def writes_source(self) -> bool:
        return self.mode != SETTLED

    async def refresh(self) -> None:
        writer = self._db.directory(WRITER)
        # State first: the heartbeat then reports the mode this host now serves in, which
        # the migration waits for before it stops writes to the old placement.
        self.state = await read_state(self._db)
        await writer.execute(
            "INSERT INTO service_hosts (instance_id, placement, has_cache, mode, seen_at)"
            " VALUES (%s, %s, %s, %s, UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE placement = VALUES(placement),"
            " has_cache = VALUES(has_cache), mode = VALUES(mode), seen_at = VALUES(seen_at)",
            (self._settings.instance_id, self.own.fingerprint, self._settings.cache is not None, self.mode),
        )
        if self._settings.cache is not None:
            row = await writer.fetchone(
                "SELECT COUNT(*) FROM service_hosts WHERE has_cache = 0"
                " AND seen_at > UTC_TIMESTAMP(3) - INTERVAL %s MICROSECOND",
                (int(HOST_SILENT_SECONDS * 1_000_000),),
            )
            self.cache_safe = not (row and row[0])

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._settings.placement_poll_seconds)
            try:
                await self.refresh()
            except Exception:
                # A blip keeps the last view; the data paths stay in their mode.
                log.exception("could not refresh the data placement")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self._db.directory(WRITER).execute(
                "DELETE FROM service_hosts WHERE instance_id = %s", (self._settings.instance_id,)
            )
        except Exception:
            log.exception("could not remove this host's heartbeat")

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "placement": self.own.fingerprint,
            "recorded": self.state.current.fingerprint,
        }
