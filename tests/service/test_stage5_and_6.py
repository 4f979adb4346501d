"""Stage 5's AWS pieces (DynamoDB posts, S3 upload URLs, SQS events) on moto, and
stage 6's split into a users service and a posts service that calls it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from service import shardmap
from service.posts import create_posts_table
from tests.service.conftest import MYSQL_PORT, Service, base_env, cache_env

REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_posts_table(dynamodb, "posts")
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="media")
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="work")["QueueUrl"]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        db_secret = secrets.create_secret(Name="db", SecretString=json.dumps({"username": "root", "password": ""}))[
            "ARN"
        ]
        yield {"dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url, "db_secret": db_secret}


@pytest.fixture(scope="module")
def stage5(aws: dict[str, Any], start_service: Any, run_id: str) -> Service:
    shard_db = f"{run_id}_s5shard"
    shard_map = shardmap.build_shard_map(
        [
            {
                "id": "shard-0",
                "host": "127.0.0.1",
                "port": MYSQL_PORT,
                "secret_arn": aws["db_secret"],
                "database": shard_db,
            }
        ]
    )
    env = base_env(
        run_id,
        "s5",
        APP_STAGE="5",
        AWS_REGION=REGION,
        SHARD_MAP=json.dumps(shard_map),
        POSTS_TABLE="posts",
        MEDIA_BUCKET="media",
        QUEUE_URL=aws["queue_url"],
        DB_SECRET_ARN=aws["db_secret"],
        **cache_env(f"{run_id}_s5"),
    )
    del env["DB_USER"], env["DB_PASSWORD"]
    return start_service(env, [env["DB_NAME"], shard_db])


def test_posts_live_in_dynamodb_and_each_write_enqueues_work(
    stage5: Service,
    aws: dict[str, Any],
) -> None:
    author = stage5.signed_in_user("dynamo_author")
    uid = author.user_id  # type: ignore[attr-defined]
    upload = author.post("/media/upload-url", json={"content_type": "image/png"})
    assert upload.status_code == 201
    key = upload.json()["key"]
    assert key.startswith(f"media/{uid}/") and key.endswith(".png")
    form = upload.json()
    assert form["method"] == "POST" and form["fields"]["key"] == key and form["fields"]["x-amz-signature"]
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions, "the size is bounded"
    assert {"Content-Type": "image/png"} in conditions and {"key": key} in conditions
    video = author.post("/media/upload-url", json={"content_type": "video/mp4"}).json()
    assert ["content-length-range", 1, 100 * 1024 * 1024] in json.loads(base64.b64decode(video["fields"]["policy"]))[
        "conditions"
    ]

    ids = [
        author.post("/posts", json={"body": f"p{i}", "media_key": key if i == 0 else None}).json()["id"]
        for i in range(3)
    ]
    ulid = ids[0].split("-", 1)[1]
    item = aws["dynamodb"].get_item(TableName="posts", Key={"pk": {"S": f"USER#{uid}"}, "sk": {"S": f"POST#{ulid}"}})[
        "Item"
    ]
    assert item["body"]["S"] == "p0" and item["media_key"]["S"] == key

    first = stage5.client.get(f"/users/{uid}/posts", params={"limit": "2"})
    assert first.headers["x-db-route"] == "writer"  # a consistent read for a recent writer
    second = stage5.client.get(f"/users/{uid}/posts", params={"limit": "2", "cursor": first.json()["next_cursor"]})
    assert [p["id"] for p in first.json()["posts"] + second.json()["posts"]] == ids[::-1]
    assert second.json()["next_cursor"] is None

    assert author.patch(f"/posts/{ids[1]}", json={"body": "edited"}).json()["body"] == "edited"
    assert stage5.client.get(f"/posts/{ids[1]}").json()["body"] == "edited"
    assert author.delete(f"/posts/{ids[2]}").status_code == 204
    assert stage5.client.get(f"/posts/{ids[2]}").status_code == 404

    follower = stage5.signed_in_user("dynamo_follower")
    assert follower.put(f"/me/following/{uid}").status_code == 204
    feed = stage5.client.get(f"/users/{follower.user_id}/feed").json()  # type: ignore[attr-defined]
    assert [p["id"] for p in feed["posts"]] == [ids[1], ids[0]]

    messages = []
    while True:
        batch = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)
        if not batch.get("Messages"):
            break
        messages += [json.loads(m["Body"]) for m in batch["Messages"]]
    assert sorted(m["type"] for m in messages) == (["post.created"] * 3 + ["post.deleted", "post.updated"])
    assert len({m["id"] for m in messages}) == 5
    created = next(m for m in messages if m["type"] == "post.created" and m["post"]["id"] == ids[0])
    assert created["post"] == {"id": ids[0], "user_id": uid, "media_key": key, "created_at": item["created_at"]["S"]}


def test_split_services_serve_their_own_routes_and_find_their_peer(
    start_service: Any, run_id: str, stage3_pair: tuple[Service, Service]
) -> None:
    # Both services use the stage-3 pair's database, as ECS services share the RDS writer.
    database = stage3_pair[0].settings.writer.database  # type: ignore[union-attr]
    shared = {"APP_STAGE": "6", "DB_NAME": database, "MIGRATE_ON_START": "false", **cache_env(f"{run_id}_s6")}
    users = start_service(base_env(run_id, "users", SERVICE_ROLE="users", **shared))
    posts = start_service(base_env(run_id, "posts", SERVICE_ROLE="posts", USERS_SERVICE_URL=users.url, **shared))
    author = users.signed_in_user("split_author")
    assert author.post("/posts", json={"body": "x"}).status_code == 404
    assert posts.client.post("/users", json={"username": "n", "password": "p"}).status_code == 404

    author.base_url = posts.url  # the session cookie is honoured by the other service
    created = author.post("/posts", json={"body": "from the posts service"})
    assert created.status_code == 201
    timeline = posts.client.get(f"/users/{author.user_id}/posts")  # type: ignore[attr-defined]
    assert timeline.json()["user"]["username"] == "split_author"
    assert posts.client.get("/users/424242/posts").status_code == 404
    assert posts.client.get("/health").json()["capabilities"]["role"] == "posts"
