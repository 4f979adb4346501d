"""Read/write split against a real primary and replica started by the tests."""

from __future__ import annotations

from typing import Any

from service.ids import new_ulid
from tests.service.conftest import Replication, cache_env, sql


def test_reads_go_to_the_replica_but_a_writer_reads_its_own_writes(
    replication: Replication,
    start_service: Any,
    run_id: str,
) -> None:
    name = "app_rw"
    service = start_service(
        {
            "APP_STAGE": "3",
            "INSTANCE_ID": "rw",
            "DB_WRITER_HOST": "127.0.0.1",
            "DB_PORT": str(replication.primary_port),
            "DB_USER": "root",
            "DB_NAME": name,
            "DB_READER_HOST": f"127.0.0.1:{replication.replica_port}",
            **cache_env(f"{run_id}_rw"),
            "READ_YOUR_WRITES_SECONDS": "30",
        }
    )
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
    assert (before.headers["x-cache"], before.headers["x-db-route"]) == ("miss", "reader")

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
