"""Stage 5 routing: the directory stays on the primary, user-owned rows go to the
shard that the published map names."""

from __future__ import annotations

import json
from typing import Any

from service import shardmap
from tests.service.conftest import MYSQL_PORT, base_env, sql


def test_users_land_on_the_shard_the_map_says(start_service: Any, run_id: str) -> None:
    shard_dbs = [f"{run_id}_shard{i}" for i in range(2)]
    shard_map = shardmap.build_shard_map(
        [
            {
                "id": f"shard-{i}",
                "host": "127.0.0.1",
                "port": MYSQL_PORT,
                "user": "root",
                "password": "",
                "database": db,
            }
            for i, db in enumerate(shard_dbs)
        ]
    )
    env = base_env(run_id, "dir", APP_STAGE="5", SHARD_MAP=json.dumps(shard_map))
    service = start_service(env, [env["DB_NAME"], *shard_dbs])
    owners = shardmap.owners(shard_map)

    landed: dict[str, int] = {}
    for index in range(4):
        user = service.signed_in_user(f"sharded_{index}")
        uid = user.user_id  # type: ignore[attr-defined]
        expected = owners[shardmap.bucket_for(uid, 1024)]
        profile = user.put("/me/profile", json={"display_name": f"User {index}", "bio": "hi"})
        assert profile.status_code == 200
        assert profile.headers["x-shard"] == expected
        post = user.post("/posts", json={"body": "on my shard"})
        assert post.headers["x-shard"] == expected

        for shard_id, db in zip(("shard-0", "shard-1"), shard_dbs, strict=True):
            rows = sql(
                MYSQL_PORT,
                "SELECT (SELECT COUNT(*) FROM profiles WHERE user_id = %s),"
                " (SELECT COUNT(*) FROM posts WHERE user_id = %s)",
                (uid, uid),
                db=db,
            )
            assert rows == ([(1, 1)] if shard_id == expected else [(0, 0)])
        # The user directory stays on the primary, not on the shards.
        assert sql(MYSQL_PORT, "SELECT COUNT(*) FROM users WHERE id = %s", (uid,), db=env["DB_NAME"]) == [(1,)]
        fetched = service.client.get(f"/users/{uid}")
        assert fetched.json()["profile"] == {"display_name": f"User {index}", "bio": "hi"}
        assert fetched.headers["x-shard"] == expected
        landed[expected] = landed.get(expected, 0) + 1
    assert set(landed) == {"shard-0", "shard-1"}, "users 1-4 fall in both shards' buckets"
    for db in shard_dbs:
        assert sql(MYSQL_PORT, "SELECT COUNT(*) FROM users", db=db) == [(0,)]
