"""The online data migration: copy user-owned rows from the recorded placement to a
new one (stage 4 to 5: the primary to the shards and DynamoDB; shard growth: the
buckets that change owner), verify, switch, and later clean up.

Rules that make it safe to run while both wirings serve (``service/placement.py``):

- the recorded placement stays the source of truth until the switch: every host writes
  it, hosts on the new wiring write the new placement after it;
- a bucket is synced by reading the target first and then the source: a row in the
  target but not in the source was deleted from the source, so it goes; a row in the
  source is put into the target unless the target's copy is newer (``updated_at``), so
  an edit made during the copy wins;
- progress is checkpointed per logical bucket, so a successor resumes; re-syncing a
  bucket is idempotent;
- after no host on another wiring is left, every moving bucket is verified (record
  counts and a checksum per bucket) and re-synced until it matches; only then do reads
  switch, and once every host has seen that, writes stop going to the source.

One run holds a MySQL named lock on the primary, so the fleet runs it once; a host that
dies mid-way drops its connection, the lock with it, and the next host resumes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from service import aws, shardmap
from service.config import Settings
from service.db import WRITER, Database, create_pool
from service.placement import (
    MIGRATING,
    MYSQL_POSTS,
    Locator,
    Placement,
    PlacementState,
    PlacementView,
    live_hosts,
    other_hosts,
    read_state,
    write_state,
)
from service.posts import DynamoPosts, PostStore, SqlPosts, record_post
from service.users import UserRows

log = logging.getLogger("service.migration")


Records = dict[tuple[Any, ...], tuple[Any, ...]]
LOCK = "data-migration"
PROGRESS_EVERY = 64
USER_PAGE = 5000
VERIFY_ATTEMPTS = 5
# Requests a host began before it saw the switch finish within this (at most 1 s).
IN_FLIGHT_SECONDS = 1.0


class _StdoutLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record) + "\n")
        sys.stdout.flush()


def _metrics_log() -> logging.Logger:
    """Embedded-metric lines must be bare JSON objects on stdout (CloudWatch Logs reads
    them there), so they skip the service log's prefix; a caller may raise the level."""
    metrics = logging.getLogger("service.migration.metrics")
    if not metrics.handlers:
        metrics.addHandler(_StdoutLines())
        metrics.propagate = False
        if metrics.level == logging.NOTSET:
            metrics.setLevel(logging.INFO)
    return metrics


class PlacedRows:
    """The user-owned records of one placement: profiles, follows and posts."""

    def __init__(self, db: Database, placement: Placement, settings: Settings) -> None:
        self.placement = placement
        locate = Locator(db, placement)
        self.users = UserRows(locate)
        self.posts: PostStore
        if placement.posts.startswith("dynamodb:"):
            table = placement.posts.split(":", 1)[1]
            self.posts = DynamoPosts(aws.client("dynamodb", settings.region), table)
        else:
            self.posts = SqlPosts(locate)

    async def records(self, user_ids: list[int], kinds: frozenset[str]) -> Records:
        found: Records = {}
        if "users" in kinds:
            found.update(await self.users.records(user_ids))
        if "posts" in kinds:
            found.update(await self.posts.records(user_ids))
        return found

    async def put(self, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        if key[0] == "post":
            await self.posts.put(record_post(key, value))
        else:
            await self.users.put_record(key, value)

    async def delete(self, key: tuple[Any, ...]) -> None:
        if key[0] == "post":
            await self.posts.remove(key[1], key[2])
        else:
            await self.users.delete_record(key)


def moving_kinds(source: Placement, target: Placement, bucket: int) -> frozenset[str]:
    """What moves for one bucket: ``users`` (profiles, follows) and/or ``posts``."""
    owners_move = source.owner(bucket) != target.owner(bucket)
    kinds = {"users"} if owners_move else set()
    if source.posts != target.posts or (owners_move and source.posts == MYSQL_POSTS):
        kinds.add("posts")
    return frozenset(kinds)


def checksum(records: Records) -> str:
    lines = sorted(json.dumps([list(k), list(v)]) for k, v in records.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass
class Progress:
    target: str
    total: int
    copied: int = 0
    verified: int = 0
    records_copied: int = 0
    phase: str = "copy"
    started: float = field(default_factory=time.monotonic)

    def emf(self) -> str:
        """A CloudWatch embedded-metric-format line: the log agent turns it into metrics."""
        return json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "ScalingApp/DataMigration",
                            "Dimensions": [["Target"]],
                            "Metrics": [
                                {"Name": "BucketsCopied", "Unit": "Count"},
                                {"Name": "BucketsVerified", "Unit": "Count"},
                                {"Name": "BucketsTotal", "Unit": "Count"},
                                {"Name": "RecordsCopied", "Unit": "Count"},
                            ],
                        }
                    ],
                },
                "Target": self.target,
                "Phase": self.phase,
                "BucketsCopied": self.copied,
                "BucketsVerified": self.verified,
                "BucketsTotal": self.total,
                "RecordsCopied": self.records_copied,
            }
        )


class DataMigration:
    """Moves the recorded placement's rows to ``target`` (the runner's own wiring)."""

    def __init__(self, db: Database, settings: Settings, target: Placement, view: PlacementView | None = None) -> None:
        self._db = db
        self._settings = settings
        self.target = target
        # The runner's own host, when a host runs it: it reports the switch at once.
        self._view = view
        self.progress: Progress | None = None

    # -- records -----------------------------------------------------------------

    async def users_by_bucket(self, buckets: int) -> dict[int, array[int]]:
        """Every user id on the primary, by logical bucket (the directory never moves)."""
        grouped: dict[int, array[int]] = {}
        last = 0
        pool = self._db.directory(WRITER)
        while True:
            rows = await pool.fetchall("SELECT id FROM users WHERE id > %s ORDER BY id LIMIT %s", (last, USER_PAGE))
            for (user_id,) in rows:
                grouped.setdefault(shardmap.bucket_for(user_id, buckets), array("q")).append(int(user_id))
            if len(rows) < USER_PAGE:
                return grouped
            last = int(rows[-1][0])

    async def sync_bucket(
        self, source: PlacedRows, target: PlacedRows, user_ids: list[int], kinds: frozenset[str]
    ) -> int:
        """Make the target's records of these users equal the source's; returns the writes."""
        if not user_ids or not kinds:
            return 0
        # Target first: anything there but no longer in the source was deleted since.
        have = await target.records(user_ids, kinds)
        want = await source.records(user_ids, kinds)
        writes = 0
        for key, value in want.items():
            if have.get(key) != value:
                await target.put(key, value)
                writes += 1
        for key in have.keys() - want.keys():
            await target.delete(key)
            writes += 1
        return writes

    async def compare_bucket(
        self, source: PlacedRows, target: PlacedRows, user_ids: list[int], kinds: frozenset[str]
    ) -> tuple[bool, int, str]:
        if not user_ids or not kinds:
            return True, 0, checksum({})
        have = await target.records(user_ids, kinds)
        want = await source.records(user_ids, kinds)
        return checksum(have) == checksum(want), len(want), checksum(want)

    # -- checkpoints ---------------------------------------------------------------

    async def _done_buckets(self, status: str) -> set[int]:
        rows = await self._db.directory(WRITER).fetchall(
            "SELECT bucket FROM data_migration_buckets WHERE target = %s AND status = %s",
            (self.target.fingerprint, status),
        )
        return {int(row[0]) for row in rows}

    async def _checkpoint(self, rows: list[tuple[int, str, int, str]]) -> None:
        if not rows:
            return
        marks = ", ".join(["(%s, %s, %s, %s, %s, UTC_TIMESTAMP(3))"] * len(rows))
        args: list[Any] = []
        for bucket, status, records, digest in rows:
            args += [self.target.fingerprint, bucket, status, records, digest]
        await self._db.directory(WRITER).execute(
            "INSERT INTO data_migration_buckets (target, bucket, status, records, checksum, updated_at)"
            f" VALUES {marks} ON DUPLICATE KEY UPDATE status = VALUES(status), records = VALUES(records),"
            " checksum = VALUES(checksum), updated_at = VALUES(updated_at)",
            args,
        )
        rows.clear()

    def _report(self) -> None:
        if self.progress is not None:
            _metrics_log().info("%s", self.progress.emf())

    # -- the run -------------------------------------------------------------------

    async def source_is_empty(self) -> bool:
        """True when the recorded placement holds no user-owned rows at all (a new system)."""
        state = await read_state(self._db)
        sharded = state.current.owners is not None
        pools = list(self._db.shards.values()) if sharded else [self._db.directory(WRITER)]
        for pool in pools:
            row = await pool.fetchone(
                "SELECT EXISTS(SELECT 1 FROM profiles) OR EXISTS(SELECT 1 FROM follows) OR EXISTS(SELECT 1 FROM posts)"
            )
            if row and row[0]:
                return False
        return True

    async def differing_buckets(self) -> list[int]:
        """Moving buckets whose records differ now between the recorded placement and the
        target (read only; a bucket written to meanwhile may show up once)."""
        state = await read_state(self._db)
        if state.current == self.target:
            return []
        source = PlacedRows(self._db, state.current, self._settings)
        target = PlacedRows(self._db, self.target, self._settings)
        users = await self.users_by_bucket(state.current.bucket_count(self.target))
        differing = []
        for bucket in state.current.moving_buckets(self.target):
            ids, kinds = list(users.get(bucket, ())), moving_kinds(state.current, self.target, bucket)
            same, _, _ = await self.compare_bucket(source, target, ids, kinds)
            if not same:
                differing.append(bucket)
        return differing

    async def run(self, fleet_wait_seconds: float = 0.0) -> str:
        """One attempt under the lock: ``done``, ``busy`` (another runner holds the lock),
        ``waiting`` (hosts on another wiring still serve), ``unverified`` (a bucket kept
        changing) or ``switching`` (a host has not yet reported reading the target)."""
        assert self._settings.writer is not None
        lock_pool = await create_pool(self._settings.writer, 1)
        try:
            async with lock_pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("SELECT GET_LOCK(%s, 0)", (LOCK,))
                (locked,) = await cur.fetchone()
                if locked != 1:
                    return "busy"
                try:
                    return await self._run_locked(fleet_wait_seconds)
                finally:
                    await cur.execute("SELECT RELEASE_LOCK(%s)", (LOCK,))
        finally:
            lock_pool.close()
            await lock_pool.wait_closed()

    async def _run_locked(self, fleet_wait_seconds: float) -> str:
        state = await read_state(self._db)
        if state.current == self.target:
            return "done"
        if state.target != self.target:
            state = PlacementState(state.current, self.target, "copy", state.previous)
            await write_state(self._db, state)
        source_placement = state.current
        source = PlacedRows(self._db, source_placement, self._settings)
        target = PlacedRows(self._db, self.target, self._settings)
        moving = source_placement.moving_buckets(self.target)
        buckets = source_placement.bucket_count(self.target)
        self.progress = Progress(self.target.fingerprint, len(moving), phase=state.phase)

        await self._copy(source, target, source_placement, moving, buckets)
        if not await self._fleet_on_target(fleet_wait_seconds):
            self.progress.phase = "waiting"
            self._report()
            return "waiting"
        if not await self._verify(source, target, source_placement, moving, buckets):
            return "unverified"
        if not await self._switch(state, max(fleet_wait_seconds, self._settings.placement_poll_seconds * 4)):
            return "switching"
        return "done"

    async def _copy(
        self, source: PlacedRows, target: PlacedRows, placement: Placement, moving: list[int], buckets: int
    ) -> None:
        assert self.progress is not None
        done = await self._done_buckets("copied") | await self._done_buckets("verified")
        users = await self.users_by_bucket(buckets)
        pending: list[tuple[int, str, int, str]] = []
        self.progress.copied = len(done & set(moving))
        for bucket in moving:
            if bucket in done:
                continue
            ids, kinds = list(users.get(bucket, ())), moving_kinds(placement, self.target, bucket)
            self.progress.copied += 1
            if not ids or not kinds:
                continue  # nothing to copy; users who arrive later are written to both
            self.progress.records_copied += await self.sync_bucket(source, target, ids, kinds)
            pending.append((bucket, "copied", 0, ""))
            if len(pending) >= PROGRESS_EVERY:
                await self._checkpoint(pending)
                self._report()
        await self._checkpoint(pending)
        self._report()

    async def _fleet_on_target(self, wait_seconds: float) -> bool:
        deadline = time.monotonic() + wait_seconds
        while True:
            others = await other_hosts(self._db, self.target.fingerprint)
            if not others:
                return True
            if time.monotonic() >= deadline:
                log.info("data migration waits for hosts on another wiring: %s", ", ".join(sorted(others)))
                return False
            await asyncio.sleep(min(1.0, self._settings.placement_poll_seconds))

    async def _verify(
        self, source: PlacedRows, target: PlacedRows, placement: Placement, moving: list[int], buckets: int
    ) -> bool:
        assert self.progress is not None
        self.progress.phase = "verify"
        self.progress.verified = 0
        users = await self.users_by_bucket(buckets)
        pending: list[tuple[int, str, int, str]] = []
        for bucket in moving:
            ids, kinds = list(users.get(bucket, ())), moving_kinds(placement, self.target, bucket)
            self.progress.verified += 1
            if not ids or not kinds:
                continue
            for _ in range(VERIFY_ATTEMPTS):
                same, count, digest = await self.compare_bucket(source, target, ids, kinds)
                if same:
                    break
                self.progress.records_copied += await self.sync_bucket(source, target, ids, kinds)
            else:
                log.error("bucket %d still differs after %d syncs; the next run retries", bucket, VERIFY_ATTEMPTS)
                await self._checkpoint(pending)
                return False
            pending.append((bucket, "verified", count, digest))
            if len(pending) >= PROGRESS_EVERY:
                await self._checkpoint(pending)
                self._report()
        await self._checkpoint(pending)
        self._report()
        return True

    async def _switch(self, state: PlacementState, wait_seconds: float) -> bool:
        """Reads move first while every host still writes both; writes to the source stop
        only after every host reports that it reads the target (and its requests begun
        before have had time to end)."""
        assert self.progress is not None
        await write_state(self._db, PlacementState(state.current, self.target, "switch", state.previous))
        self.progress.phase = "switch"
        if self._view is not None:
            await self._view.refresh()
        deadline = time.monotonic() + wait_seconds
        while await other_hosts(self._db, self.target.fingerprint, mode=MIGRATING):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(0.5, self._settings.placement_poll_seconds))
        me = self._settings.instance_id if self._view is not None else None
        if any(host != me for host in await live_hosts(self._db)):
            await asyncio.sleep(min(IN_FLIGHT_SECONDS, self._settings.placement_poll_seconds * 2))
        await write_state(self._db, PlacementState(self.target, None, "done", state.current))
        self.progress.phase = "done"
        self._report()
        return True


async def status(db: Database) -> dict[str, Any]:
    """The recorded placement and, per target, how many buckets are copied and verified."""
    state = await read_state(db)
    rows = await db.directory(WRITER).fetchall(
        "SELECT target, status, COUNT(*), SUM(records) FROM data_migration_buckets GROUP BY target, status"
    )
    by_target: dict[str, dict[str, int]] = {}
    for target, bucket_status, count, records in rows:
        by_target.setdefault(target, {})[bucket_status] = int(count)
        if bucket_status == "verified":
            by_target[target]["records_verified"] = int(records or 0)
    return {
        "current": state.current.fingerprint,
        "target": state.target.fingerprint if state.target else None,
        "phase": state.phase,
        "previous": state.previous.fingerprint if state.previous else None,
        "buckets": by_target,
    }


async def cleanup(db: Database, settings: Settings) -> int:
    """Delete the rows the last finished migration left at the previous placement;
    returns how many. Refused while a migration is in progress."""
    state = await read_state(db)
    if state.target is not None:
        raise RuntimeError("a migration is in progress: let it finish before cleaning up")
    if state.previous is None:
        return 0
    previous, current = state.previous, state.current
    users = await DataMigration(db, settings, current).users_by_bucket(previous.bucket_count(current))
    locate = Locator(db, previous)
    removed = 0
    for bucket in previous.moving_buckets(current):
        ids, kinds = list(users.get(bucket, ())), moving_kinds(previous, current, bucket)
        tables = [("profiles", "user_id"), ("follows", "follower_id")] if "users" in kinds else []
        if "posts" in kinds and previous.posts == MYSQL_POSTS:
            tables.append(("posts", "user_id"))
        for pool, group in locate.by_pool(ids, WRITER):
            marks = ", ".join(["%s"] * len(group))
            for table, column in tables:
                affected, _ = await pool.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", group)
                removed += affected
    await write_state(db, PlacementState(current, None, "done", None))
    return removed
