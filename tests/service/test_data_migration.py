"""The 4->5 data migration on the real MariaDB and moto's DynamoDB: reads through the API
fall back to the primary until the migration switches; an edit or a delete made during
the copy wins; a crash mid-bucket resumes; a second run changes nothing; cleanup removes
only the old copies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from service import shardmap
from service.config import Settings
from service.context import RequestContext
from service.db import WRITER, Database
from service.ids import new_ulid
from service.migrate import main as migrate_main
from service.migrate import migrate_all
from service.migration import DataMigration, PlacedRows, Records, cleanup
from service.placement import Placement, read_state
from service.posts import create_posts_table, now_utc
from tests.service.conftest import MYSQL_PORT, Service, base_env, cache_env, sql

REGION = "us-east-1"


@pytest.fixture(scope="module", autouse=True)
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        yield client


def stage5_env(run_id: str, name: str, databases: list[str], **extra: str) -> dict[str, str]:
    """Stage-5 wiring over the primary ``<run_id>_<name>``: two shards and a posts table."""
    shard_dbs = [f"{run_id}_{name}_shard{i}" for i in range(2)]
    for db in [f"{run_id}_{name}", *shard_dbs]:
        if db not in databases:
            databases.append(db)
    table = f"{name}_posts"
    client = boto3.client("dynamodb", region_name=REGION)
    if table not in client.list_tables()["TableNames"]:
        create_posts_table(client, table)
    shard_map = shardmap.build_shard_map(
        [
            {"id": f"shard-{i}", "host": "127.0.0.1", "port": MYSQL_PORT, "user": "root", "database": db}
            for i, db in enumerate(shard_dbs)
        ],
        logical_buckets=64,  # fewer, emptier buckets than in AWS: the same rules, less waiting
    )
    return base_env(
        run_id,
        name,
        APP_STAGE="5",
        AWS_REGION=REGION,
        SHARD_MAP=json.dumps(shard_map),
        POSTS_TABLE=table,
        PLACEMENT_POLL_SECONDS="0.1",
        **extra,
    )


def run(work: Callable[[Database, Settings], Awaitable[Any]], settings: Settings) -> Any:
    async def main() -> Any:
        db = Database(settings)
        await db.open()
        try:
            return await work(db, settings)
        finally:
            await db.close()

    return asyncio.run(main())


def wait_for_mode(service: Service, mode: str) -> None:
    deadline = time.monotonic() + 10
    while service.client.get("/health/deep").json()["data_placement"]["mode"] != mode:
        assert time.monotonic() < deadline, f"the host never reached {mode!r}"
        time.sleep(0.05)


def test_reads_fall_back_to_the_primary_until_the_migration_has_moved_everything(
    start_service: Any, run_id: str, databases: list[str]
) -> None:
    name = f"{run_id}_m4"
    shared = {"DB_NAME": name, **cache_env(f"{run_id}_m4"), "PLACEMENT_POLL_SECONDS": "0.1"}
    old = start_service(base_env(run_id, "m4old", APP_STAGE="4", **shared), [name])
    ann, bob, cat = (old.signed_in_user(f"mig_{n}") for n in ("ann", "bob", "cat"))
    assert ann.put("/me/profile", json={"display_name": "Ann", "bio": "old"}).status_code == 200
    posts = [ann.post("/posts", json={"body": f"ann {i}"}).json()["id"] for i in range(3)]
    bob_post = bob.post("/posts", json={"body": "bob 0"}).json()["id"]
    for follower, followee in ((cat, ann), (cat, bob), (bob, ann)):
        assert follower.put(f"/me/following/{followee.user_id}").status_code == 204  # type: ignore[attr-defined]

    env = stage5_env(run_id, "m4", databases, **cache_env(f"{run_id}_m4"), MIGRATE_DATA_ON_START="false")
    new = start_service({**env, "INSTANCE_ID": "m4new"})
    assert new.client.get("/health/deep").json()["data_placement"]["mode"] == "migrating"
    for client in (ann, bob, cat):
        client.base_url = new.url  # type: ignore[assignment]
    aid, cid = ann.user_id, cat.user_id  # type: ignore[attr-defined]

    # Nothing has been copied: everything below is read from the primary through the new wiring.
    assert new.client.get(f"/users/{aid}").json()["profile"] == {"display_name": "Ann", "bio": "old"}
    assert new.client.get(f"/posts/{posts[0]}").json()["body"] == "ann 0"
    assert ann.patch(f"/posts/{posts[1]}", json={"body": "ann 1 edited"}).status_code == 200
    assert ann.delete(f"/posts/{posts[2]}").status_code == 204
    assert cat.delete(f"/me/following/{bob.user_id}").status_code == 204  # type: ignore[attr-defined]
    fresh = bob.post("/posts", json={"body": "bob during the roll"}).json()["id"]
    feed = [p["id"] for p in new.client.get(f"/users/{cid}/feed").json()["posts"]]
    assert feed == [posts[1], posts[0]]
    # A host still on the old wiring sees what the new one wrote.
    assert old.client.get(f"/posts/{fresh}").json()["body"] == "bob during the roll"

    old.stop()
    old.wait_stopped()
    target = Placement.of(new.settings)
    outcome = run(lambda db, s: DataMigration(db, s, target).run(fleet_wait_seconds=5), new.settings)
    assert outcome == "done"
    wait_for_mode(new, "settled")

    assert new.client.get(f"/users/{aid}").json()["profile"] == {"display_name": "Ann", "bio": "old"}
    renamed = ann.put("/me/profile", json={"display_name": "Ann 5"})
    assert "x-shard" in renamed.headers  # settled: user rows are written to the shard only
    assert new.client.get(f"/users/{aid}").json()["profile"] == {"display_name": "Ann 5", "bio": ""}
    timeline = new.client.get(f"/users/{aid}/posts").json()["posts"]
    assert [(p["id"], p["body"]) for p in timeline] == [(posts[1], "ann 1 edited"), (posts[0], "ann 0")]
    assert new.client.get(f"/posts/{posts[2]}").status_code == 404
    assert [p["id"] for p in new.client.get(f"/users/{bob.user_id}/posts").json()["posts"]] == [fresh, bob_post]  # type: ignore[attr-defined]
    assert [p["id"] for p in new.client.get(f"/users/{cid}/feed").json()["posts"]] == [posts[1], posts[0]]
    assert ann.patch(f"/posts/{posts[0]}", json={"body": "edited at stage 5"}).status_code == 200
    assert cat.delete(f"/me/following/{aid}").status_code == 204

    # The primary keeps its copies until the cleanup command removes them.
    assert sql(MYSQL_PORT, "SELECT COUNT(*) FROM posts", db=name) == [(4,)]
    assert run(lambda db, s: cleanup(db, s), new.settings) == 4 + 1 + 2
    assert sql(MYSQL_PORT, "SELECT (SELECT COUNT(*) FROM posts) + (SELECT COUNT(*) FROM follows)", db=name) == [(0,)]
    assert new.client.get(f"/posts/{posts[0]}").json()["body"] == "edited at stage 5"


# -- the copy's rules, driven directly -------------------------------------------------


def seeded(run_id: str, name: str, databases: list[str], users: int) -> tuple[Settings, list[int]]:
    """A primary with ``users`` users, each with a profile, a follow and two posts."""
    settings = Settings.from_env(stage5_env(run_id, name, databases))
    asyncio.run(migrate_all(settings))
    db = settings.writer.database  # type: ignore[union-attr]
    ids = []
    for index in range(users):
        sql(
            MYSQL_PORT,
            "INSERT INTO users (username, password_hash) VALUES (%s, 'not a hash')",
            (f"u{index}",),
            db=db,
        )
        ids.append(sql(MYSQL_PORT, "SELECT LAST_INSERT_ID()", db=db)[0][0])
    for uid in ids:
        sql(
            MYSQL_PORT,
            "INSERT INTO profiles VALUES (%s, %s, '', UTC_TIMESTAMP(3))",
            (uid, f"user {uid}"),
            db=db,
        )
        sql(
            MYSQL_PORT,
            "INSERT INTO follows VALUES (%s, %s, UTC_TIMESTAMP(3))",
            (uid, ids[0] if uid != ids[0] else ids[-1]),
            db=db,
        )
        for _ in range(2):
            sql(
                MYSQL_PORT,
                "INSERT INTO posts VALUES (%s, %s, 'seeded', NULL, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                (uid, new_ulid()),
                db=db,
            )
    return settings, ids


async def all_records(db: Database, settings: Settings, placement: Placement, ids: list[int]) -> Records:
    return await PlacedRows(db, placement, settings).records(ids, frozenset({"users", "posts"}))


async def hold_fleet(db: Database, held: bool) -> None:
    """A heartbeat of a host on the old wiring, as if one still served."""
    if held:
        await db.directory(WRITER).execute(
            "REPLACE INTO service_hosts VALUES ('old-host', 'stage4', 1, 'settled', UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)"
        )
    else:
        await db.directory(WRITER).execute("DELETE FROM service_hosts WHERE instance_id = 'old-host'")


def during_source_read(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[PlacedRows, tuple[Any, ...]], Awaitable[None]]
) -> None:
    """Run ``action`` once, right after the copy has read a bucket from the source and
    before it writes the target: a write racing the copy."""
    original = PlacedRows.records
    fired: list[bool] = []

    async def records(self: PlacedRows, user_ids: list[int], kinds: frozenset[str]) -> Records:
        found = await original(self, user_ids, kinds)
        posts = [key for key in found if key[0] == "post"]
        if self.placement == Placement.primary() and posts and not fired:
            fired.append(True)
            await action(self, posts[0])
        return found

    monkeypatch.setattr(PlacedRows, "records", records)


def test_an_edit_during_the_copy_wins_over_the_copy(
    run_id: str, databases: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, ids = seeded(run_id, "edit", databases, users=3)
    target = Placement.of(settings)

    async def work(db: Database, s: Settings) -> tuple[str, Records, Records]:
        new_rows = PlacedRows(db, target, s)

        async def edit(source: PlacedRows, key: tuple[Any, ...]) -> None:
            await asyncio.sleep(0.002)  # a later millisecond than the seeded rows
            # What a stage-5 host does: write the source, then the target.
            post = await source.posts.update(RequestContext(), key[1], key[2], "edited during the copy")
            assert post is not None
            await new_rows.posts.put(post)
            moment = now_utc()
            await source.users.put_profile(RequestContext(), key[1], "renamed", "", moment)
            await new_rows.users.put_profile(RequestContext(), key[1], "renamed", "", moment)

        during_source_read(monkeypatch, edit)
        await hold_fleet(db, True)  # copy only: no verify may repair what the copy did
        outcome = await DataMigration(db, s, target).run()
        return outcome, await all_records(db, s, Placement.primary(), ids), await all_records(db, s, target, ids)

    outcome, source, copied = run(work, settings)
    assert outcome == "waiting"
    assert copied == source
    assert sum(v[0] == "edited during the copy" for k, v in copied.items() if k[0] == "post") == 1
    assert sum(v[0] == "renamed" for k, v in copied.items() if k[0] == "profile") == 1
    # Progress as CloudWatch embedded-metric lines: bare JSON on stdout.
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert metrics[-1]["Phase"] == "waiting" and metrics[-1]["BucketsCopied"] == metrics[-1]["BucketsTotal"] == 64
    assert metrics[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ScalingApp/DataMigration"


def test_a_delete_during_the_copy_is_not_brought_back(
    run_id: str, databases: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, ids = seeded(run_id, "delete", databases, users=3)
    target = Placement.of(settings)
    deleted: list[tuple[Any, ...]] = []

    async def work(db: Database, s: Settings) -> tuple[list[str], bool, Records, Records]:
        new_rows = PlacedRows(db, target, s)

        async def delete(source: PlacedRows, key: tuple[Any, ...]) -> None:
            assert await source.posts.delete(RequestContext(), key[1], key[2])
            await new_rows.posts.remove(key[1], key[2])
            deleted.append(key)

        during_source_read(monkeypatch, delete)
        await hold_fleet(db, True)
        outcomes = [await DataMigration(db, s, target).run()]
        # The copy put back the row it had read: the race is real, and only the verify catches it.
        resurrected = deleted[0] in await all_records(db, s, target, ids)
        await hold_fleet(db, False)
        outcomes.append(await DataMigration(db, s, target).run())
        return (
            outcomes,
            resurrected,
            await all_records(db, s, Placement.primary(), ids),
            await all_records(db, s, target, ids),
        )

    outcomes, resurrected, source, copied = run(work, settings)
    assert outcomes == ["waiting", "done"]
    assert resurrected
    assert deleted[0] not in copied and deleted[0] not in source
    assert copied == source and len(copied) == 3 * 4 - 1


def test_a_crash_mid_bucket_resumes_and_a_second_run_changes_nothing(
    run_id: str, databases: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, ids = seeded(run_id, "resume", databases, users=6)
    target = Placement.of(settings)
    original = PlacedRows.put
    puts: list[tuple[Any, ...]] = []

    async def crashing_put(self: PlacedRows, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        if len(puts) == 7:
            raise ConnectionError("the host went away")
        await original(self, key, value)
        puts.append(key)

    async def work(db: Database, s: Settings) -> list[Any]:
        await hold_fleet(db, True)
        monkeypatch.setattr(PlacedRows, "put", crashing_put)
        with pytest.raises(ConnectionError):
            await DataMigration(db, s, target).run()
        monkeypatch.setattr(PlacedRows, "put", original)
        resumed = DataMigration(db, s, target)
        waiting = await resumed.run()
        assert resumed.progress is not None
        # Copying everything again (checkpoints dropped) writes nothing: the copy is idempotent.
        await db.directory(WRITER).execute("DELETE FROM data_migration_buckets")
        again = DataMigration(db, s, target)
        await again.run()
        assert again.progress is not None
        await hold_fleet(db, False)
        done = await DataMigration(db, s, target).run()
        after_done = await DataMigration(db, s, target).run()
        state = await read_state(db)
        return [
            waiting,
            resumed.progress.records_copied,
            again.progress.records_copied,
            done,
            after_done,
            state.current == target,
            await all_records(db, s, Placement.primary(), ids) == await all_records(db, s, target, ids),
        ]

    waiting, resumed_writes, repeat_writes, done, after_done, switched, equal = run(work, settings)
    assert waiting == "waiting"
    assert resumed_writes == 6 * 4 - 7, "the resumed run writes only what the crash left uncopied"
    assert repeat_writes == 0
    assert (done, after_done, switched, equal) == ("done", "done", True, True)


def test_shard_growth_moves_only_the_buckets_that_change_shard(run_id: str, databases: list[str]) -> None:
    shard_dbs = [f"{run_id}_grow_shard{i}" for i in range(4)]
    databases += [f"{run_id}_grow", *shard_dbs]
    shards = [
        {"id": f"shard-{i}", "host": "127.0.0.1", "port": MYSQL_PORT, "user": "root", "database": db}
        for i, db in enumerate(shard_dbs)
    ]
    two = {**shardmap.build_shard_map(shards[:2], logical_buckets=64), "shards": shards}
    four = shardmap.rebalance(two, shards)
    old, new = (
        Settings.from_env(
            base_env(run_id, "grow", APP_STAGE="5", SHARD_MAP=json.dumps(m), PLACEMENT_POLL_SECONDS="0.1")
        )
        for m in (two, four)
    )
    asyncio.run(migrate_all(new))
    moved = {b for r in shardmap.moves(two, four) for b in range(r["first"], r["last"] + 1)}

    async def work(db: Database, s: Settings) -> tuple[list[str], Records, Records, int, Records]:
        outcomes = [await DataMigration(db, s, Placement.of(old)).run()]  # records the 2-shard placement
        before = PlacedRows(db, Placement.of(old), s)
        for index in range(12):
            _, uid = await db.directory(WRITER).execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, 'x')", (f"g{index}",)
            )
            await before.users.put_profile(RequestContext(), uid, f"g{index}", "", now_utc())
            await before.posts.create(RequestContext(), uid, new_ulid(), "grown", None)
        ids = [int(r[0]) for r in await db.directory(WRITER).fetchall("SELECT id FROM users")]
        written = await all_records(db, s, Placement.of(old), ids)
        outcomes.append(await DataMigration(db, s, Placement.of(new)).run())
        removed = await cleanup(db, s)
        return (
            outcomes,
            written,
            await all_records(db, s, Placement.of(new), ids),
            removed,
            await before.records(ids, frozenset({"users", "posts"})),
        )

    outcomes, written, after, removed, left = run(work, new)
    movers = {k[1] for k in written if shardmap.bucket_for(k[1], 64) in moved}
    assert outcomes == ["done", "done"] and movers, "some of the users live in moving buckets"
    assert after == written
    assert removed == 2 * len(movers), "cleanup removes the moved users' old rows, nothing else"
    assert {k[1] for k in left} == {k[1] for k in written} - movers


def test_the_command_line_reports_runs_and_refuses_cleanup_mid_migration(
    run_id: str, databases: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = seeded(run_id, "cli", databases, users=2)
    for name, value in stage5_env(run_id, "cli", databases).items():
        monkeypatch.setenv(name, value)

    def command(*args: str) -> tuple[int, dict[str, Any]]:
        with pytest.raises(SystemExit) as exit_info:
            migrate_main(["data", *args])
        lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"_aws"')]
        return int(exit_info.value.code or 0), json.loads(lines[-1])

    code, status = command("status")
    assert (code, status["target"], status["phase"]) == (0, None, "done")
    assert command("verify")[1]["differing_buckets"], "nothing is copied yet"
    run(lambda db, s: hold_fleet(db, True), settings)
    code, ran = command("run", "--wait", "0")
    assert (code, ran["outcome"], ran["phase"]) == (3, "waiting", "copy")
    with pytest.raises(RuntimeError, match="in progress"):
        command("cleanup")
    run(lambda db, s: hold_fleet(db, False), settings)
    assert command("run", "--wait", "0")[1]["outcome"] == "done"
    code, verified = command("verify")
    assert (code, verified["differing_buckets"]) == (0, [])
    assert command("cleanup")[1]["removed_rows"] == 2 * 4  # two users' profile, follow and two posts
