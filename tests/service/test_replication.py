"""Read/write split against a real primary and replica started by the tests."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from service.ids import new_ulid
from tests.service.conftest import REDIS_PORT, Replication, cache_env, replicated_env, sql


@pytest.mark.parametrize("markers", ["redis", "in-process"])
def test_reads_go_to_the_replica_but_a_writer_reads_its_own_writes(
    replication: Replication,
    start_service: Any,
    run_id: str,
    markers: str,
) -> None:
    """With either recent-writer marker store: Redis (with the cache) or the process's own (without)."""
    name = f"app_rw_{markers.replace('-', '_')}"
    cache = cache_env(f"{run_id}_{name}") if markers == "redis" else {}
    service = start_service(replicated_env(replication, name, "rw", **cache, READ_YOUR_WRITES_SECONDS="30"))
    writer = service.signed_in_user("writer")
    writer_id = writer.user_id  # type: ignore[attr-defined]
    bystander = service.signed_in_user("bystander")
    bystander_id = bystander.user_id  # type: ignore[attr-defined]
    # Seeded straight into the primary: data that nobody wrote through the service lately.
    sql(
        replication.primary_port,
        "INSERT INTO posts (user_id, id, body, created_at, updated_at)"
        " VALUES (%s, %s, 'replicated', UTC_TIMESTAMP(), UTC_TIMESTAMP())",
        (bystander_id, new_ulid()),
        db=name,
    )
    replication.sync()

    # Nobody wrote writer's data yet: a read goes to the replica.
    before = service.client.get(f"/users/{writer_id}/posts")
    assert before.status_code == 200
    expected_cache = "miss" if markers == "redis" else "bypass"
    assert (before.headers["x-cache"], before.headers["x-db-route"]) == (expected_cache, "reader")

    sql(replication.replica_port, "STOP SLAVE")
    try:
        created = writer.post("/posts", json={"body": "written while the replica lags"})
        assert created.status_code == 201
        post_id = created.json()["id"]
        ulid = post_id.split("-", 1)[1]

        # The replica really does not have it...
        assert sql(replication.replica_port, "SELECT COUNT(*) FROM posts WHERE id = %s", (ulid,), db=name) == [(0,)]
        assert sql(replication.primary_port, "SELECT COUNT(*) FROM posts WHERE id = %s", (ulid,), db=name) == [(1,)]

        # ...yet the writer sees its own write, because its reads go to the writer.
        own_post = writer.get(f"/posts/{post_id}")
        assert own_post.status_code == 200
        assert own_post.headers["x-db-route"] == "writer"
        own_timeline = writer.get(f"/users/{writer_id}/posts")
        assert own_timeline.headers["x-db-route"] == "writer"
        assert [p["id"] for p in own_timeline.json()["posts"]] == [post_id]

        # Data nobody just wrote still comes from the replica.
        other = service.client.get(f"/users/{bystander_id}/posts")
        assert other.headers["x-db-route"] == "reader"
        assert [p["body"] for p in other.json()["posts"]] == ["replicated"]
    finally:
        sql(replication.replica_port, "START SLAVE")
    replication.sync()
    assert sql(replication.replica_port, "SELECT COUNT(*) FROM posts WHERE id = %s", (ulid,), db=name) == [(1,)]


def test_a_page_read_from_a_lagging_replica_is_cached_no_longer_than_read_your_writes(
    replication: Replication, start_service: Any, run_id: str
) -> None:
    """The replica lags longer than the read-your-writes window: once the window is over, the
    writer's page comes from the replica without its new post, and is kept only that long."""
    name = "app_lag"
    prefix = f"{run_id}_lag:"
    service = start_service(
        replicated_env(
            replication, name, "rw", **cache_env(prefix[:-1]), READ_YOUR_WRITES_SECONDS="1", CACHE_TTL_SECONDS="300"
        )
    )
    writer = service.signed_in_user("lagging_writer")
    bystander = service.signed_in_user("lag_bystander")
    uid, bid = writer.user_id, bystander.user_id  # type: ignore[attr-defined]
    replication.sync()
    cache = redis.Redis(host="127.0.0.1", port=REDIS_PORT)

    sql(replication.replica_port, "STOP SLAVE")
    try:
        post_id = writer.post("/posts", json={"body": "the replica has not seen this"}).json()["id"]
        time.sleep(1.2)  # the window (1 s) passes while the replica still lags
        stale = service.client.get(f"/users/{uid}/posts")
        assert (stale.headers["x-cache"], stale.headers["x-db-route"]) == ("miss", "reader")
        assert post_id not in [p["id"] for p in stale.json()["posts"]], "the replica should lag here"
        assert 0 < cache.pttl(f"{prefix}tl:{uid}") <= 1000, "a lagging page must not live longer than the window"

        # Someone who did not write lately: a replica read is cached for the full TTL.
        assert service.client.get(f"/users/{bid}/posts").headers["x-db-route"] == "reader"
        assert cache.pttl(f"{prefix}tl:{bid}") > 290_000
    finally:
        sql(replication.replica_port, "START SLAVE")
        cache.close()
    replication.sync()
