"""X-DB-Route and X-Shard name every database and shard that served a request."""

from __future__ import annotations

import json
from typing import Any

from service import shardmap
from tests.service.conftest import MYSQL_PORT, Service, base_env


def test_a_session_read_from_the_database_shows_in_x_db_route(stage0: Service) -> None:
    user = stage0.signed_in_user("route_session")
    me = user.get("/me")
    assert me.status_code == 200
    assert me.headers["x-db-route"] == "writer"  # the session lives in the writer at stage 0
    assert user.delete("/sessions").headers["x-db-route"] == "writer"
    assert stage0.client.get("/health").headers["x-db-route"] == "none"


def test_a_feed_across_shards_names_every_shard_and_both_kinds_of_endpoint(start_service: Any, run_id: str) -> None:
    shard_dbs = [f"{run_id}_hdr{i}" for i in range(2)]
    shard_map = shardmap.build_shard_map(
        [
            {"id": f"shard-{i}", "host": "127.0.0.1", "port": MYSQL_PORT, "user": "root", "database": db}
            for i, db in enumerate(shard_dbs)
        ]
    )
    env = base_env(run_id, "hdr", APP_STAGE="5", SHARD_MAP=json.dumps(shard_map), DB_READER_HOST="127.0.0.1")
    service = start_service(env, [env["DB_NAME"], *shard_dbs])
    owners = shardmap.owners(shard_map)
    users = [service.signed_in_user(f"hdr_{i}") for i in range(4)]
    shard_of = {u.user_id: owners[shardmap.bucket_for(u.user_id, 1024)] for u in users}  # type: ignore[attr-defined]
    reader = users[0]
    rid = reader.user_id  # type: ignore[attr-defined]
    others = [u for u in users[1:] if shard_of[u.user_id] != shard_of[rid]]  # type: ignore[attr-defined]
    assert others, "users 1-4 fall in both shards' buckets"
    assert reader.put(f"/me/following/{others[0].user_id}").status_code == 204  # type: ignore[attr-defined]

    feed = service.client.get(f"/users/{rid}/feed")
    assert feed.status_code == 200
    assert feed.headers["x-shard"] == "shard-0, shard-1"
    # The follow was this process's write: the user summary comes from the writer, posts from the shards.
    assert feed.headers["x-db-route"] == "writer"

    bystander = next(u for u in users[1:] if u is not others[0])
    page = service.client.get(f"/users/{bystander.user_id}")  # type: ignore[attr-defined]
    # Nobody wrote: the directory row from the reader, the profile from the shard's primary.
    assert page.headers["x-db-route"] == "writer, reader"
    assert page.headers["x-shard"] == shard_of[bystander.user_id]  # type: ignore[attr-defined]


def test_a_405_allows_every_method_of_the_path(stage0: Service) -> None:
    answer = stage0.client.request("OPTIONS", "/posts/1-01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert stage0.client.put("/sessions").headers["allow"] == "DELETE, POST"
