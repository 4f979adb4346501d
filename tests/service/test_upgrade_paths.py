"""What users keep across the 2->3 upgrade (their sessions, fresh reads while old hosts
write without the cache), and read-your-writes for
the writes the read/write split must not hide: sign-up, profile and follow."""

from __future__ import annotations

import time
from typing import Any

import httpx

from service.ids import new_ulid
from tests.service.conftest import PASSWORD, Replication, base_env, cache_env, replicated_env, sql


def test_sessions_issued_at_stage_2_stay_valid_at_stage_3(start_service: Any, run_id: str) -> None:
    name = f"{run_id}_sess"
    stage2 = start_service(base_env(run_id, "sess2", APP_STAGE="2", DB_NAME=name), [name])
    shared = {
        "APP_STAGE": "3",
        "DB_NAME": name,
        **cache_env(f"{run_id}_sess"),
        "MIGRATE_ON_START": "false",
        "PLACEMENT_POLL_SECONDS": "0.1",
    }
    stage3 = start_service(base_env(run_id, "sess3", **shared))
    strict = start_service(base_env(run_id, "sess3strict", **shared, SESSION_DB_FALLBACK="false"))
    before = stage2.signed_in_user("before_upgrade")
    during = stage3.signed_in_user("during_roll")

    def me(token_holder: httpx.Client, service: Any) -> int:
        return httpx.get(f"{service.url}/me", cookies=token_holder.cookies).status_code

    assert me(before, stage3) == 200, "a stage-2 cookie is honoured at stage 3"
    assert me(during, stage2) == 200, "a host still on stage 2 honours a session a new host issued"
    assert me(before, strict) == 401, "without the fallback the upgrade signs stage-2 users out"
    assert httpx.delete(f"{stage3.url}/sessions", cookies=before.cookies).status_code == 204
    assert (me(before, stage3), me(before, stage2)) == (401, 401), "signing out ends the session everywhere"

    # A stage-2 host writes without invalidating the cache: while one serves, stage-3 hosts
    # read the writer and cache nothing, so nobody reads a stale copy after the roll.
    post_id = during.post("/posts", json={"body": "first"}).json()["id"]
    assert stage3.client.get(f"/posts/{post_id}").headers["x-cache"] == "bypass"
    during.base_url = stage2.url  # type: ignore[assignment]
    assert during.patch(f"/posts/{post_id}", json={"body": "edited on stage 2"}).status_code == 200
    stage2.stop()
    stage2.wait_stopped()
    view = stage3.server.config.app.state.services.placement
    deadline = time.monotonic() + 5
    while not view.cache_safe:
        assert time.monotonic() < deadline, "the stage-3 host never trusted the cache again"
        time.sleep(0.02)
    read_after = [stage3.client.get(f"/posts/{post_id}") for _ in range(2)]
    assert [r.json()["body"] for r in read_after] == ["edited on stage 2"] * 2
    assert [r.headers["x-cache"] for r in read_after] == ["miss", "hit"], "the cache is used once stage 2 is gone"


def test_a_new_user_reads_their_sign_up_profile_and_follows_despite_a_lagging_replica(
    replication: Replication, start_service: Any, run_id: str
) -> None:
    name = "app_ryw_signup"
    service = start_service(
        replicated_env(replication, name, "ryw", **cache_env(f"{run_id}_rywsu"), READ_YOUR_WRITES_SECONDS="30")
    )
    author = service.signed_in_user("ryw_author")
    aid = author.user_id  # type: ignore[attr-defined]
    sql(
        replication.primary_port,
        "INSERT INTO posts (user_id, id, body, created_at, updated_at)"
        " VALUES (%s, %s, 'old post', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
        (aid, new_ulid()),
        db=name,
    )
    replication.sync()
    sql(replication.replica_port, "STOP SLAVE")
    try:
        signed_up = service.client.post("/users", json={"username": "ryw_newcomer", "password": PASSWORD})
        assert signed_up.status_code == 201
        uid = signed_up.json()["id"]
        own = service.client.get(f"/users/{uid}")
        assert (own.status_code, own.headers["x-db-route"]) == (200, "writer")

        newcomer = httpx.Client(base_url=service.url)
        assert newcomer.post("/sessions", json={"username": "ryw_newcomer", "password": PASSWORD}).status_code == 200
        assert newcomer.put("/me/profile", json={"display_name": "New"}).status_code == 200
        assert service.client.get(f"/users/{uid}").json()["profile"] == {"display_name": "New", "bio": ""}
        assert newcomer.put(f"/me/following/{aid}").status_code == 204
        feed = service.client.get(f"/users/{uid}/feed")
        assert feed.headers["x-db-route"] == "writer"
        assert [p["body"] for p in feed.json()["posts"]] == ["old post"]
    finally:
        sql(replication.replica_port, "START SLAVE")
    replication.sync()
