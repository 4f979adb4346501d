"""``python -m service.run_local --stage N``: the service on this machine, wired the
way stage N wires it on AWS, against local MariaDB and Redis, with moto standing in
for DynamoDB, S3, SQS, SSM and Secrets Manager from stage 5.

Stages 0-2: MySQL. 3-4: + Redis for cache-aside and sessions, and a reader (the same
local server). 5: + two shards (local databases) from a shard map in SSM, posts in
DynamoDB, media in S3, work to SQS, DB credentials from Secrets Manager. 6: the same
as separate users and posts services, the posts service calling the users service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket

import boto3
import uvicorn
import uvloop
from starlette.applications import Starlette

from service import shardmap
from service.app import create_app
from service.config import Settings
from service.posts import create_posts_table

HOST = "127.0.0.1"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_moto() -> str:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    ThreadedMotoServer(ip_address=HOST, port=port, verbose=False).start()
    # moto routes by host name; an endpoint written as an IP address confuses S3.
    endpoint = f"http://localhost:{port}"
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": REGION,
        }
    )
    return endpoint


def aws_resources(db_name: str) -> dict[str, str]:
    """What the stage-5 stacks create, made in moto; returns the env that points at it."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_posts_table(dynamodb, "posts")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="media")
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="work")["QueueUrl"]
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="db-credentials", SecretString=json.dumps({"username": "root", "password": ""})
    )["ARN"]
    shards = [
        {"id": f"shard-{i}", "host": HOST, "port": 3306, "secret_arn": secret_arn, "database": f"{db_name}_shard{i}"}
        for i in range(2)
    ]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/scaling-app/shard-map", Type="String", Value=json.dumps(shardmap.build_shard_map(shards))
    )
    return {
        "DB_SECRET_ARN": secret_arn,
        "SHARD_MAP_PARAMETER": "/scaling-app/shard-map",
        "POSTS_TABLE": "posts",
        "MEDIA_BUCKET": "media",
        "QUEUE_URL": queue_url,
    }


def stage_env(stage: int, db_name: str) -> dict[str, str]:
    env = {
        "APP_STAGE": str(stage),
        "INSTANCE_ID": f"local-stage-{stage}",
        "DB_WRITER_HOST": HOST,
        "DB_PORT": "3306",
        "DB_NAME": db_name,
        "DB_USER": "root",
        "DB_PASSWORD": "",
    }
    if stage >= 3:
        env.update(
            {
                "DB_READER_HOST": HOST,
                "CACHE_HOST": HOST,
                "CACHE_PORT": "6379",
                "CACHE_TLS": "false",
                "CACHE_KEY_PREFIX": f"{db_name}:",
            }
        )
    if stage >= 5:
        del env["DB_USER"], env["DB_PASSWORD"]
        env.update(aws_resources(db_name))
    return env


def server(env: dict[str, str], port: int) -> uvicorn.Server:
    settings = Settings.from_env({**os.environ, **env, "PORT": str(port)})
    return uvicorn.Server(uvicorn.Config(create_app(settings), host=HOST, port=port, log_level="info"))


async def serve(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(s.serve() for s in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the service locally with a stage's wiring.")
    parser.add_argument("--stage", type=int, choices=range(7), required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db-name", default="scaling_app_local")
    args = parser.parse_args()

    if args.stage >= 5:
        print(f"moto (DynamoDB, S3, SQS, SSM, Secrets Manager): {start_moto()}")
    env = stage_env(args.stage, args.db_name)
    if args.stage == 6:
        users_url = f"http://{HOST}:{args.port}"
        servers = [
            server({**env, "SERVICE_ROLE": "users", "INSTANCE_ID": "local-users"}, args.port),
            server(
                {**env, "SERVICE_ROLE": "posts", "INSTANCE_ID": "local-posts", "USERS_SERVICE_URL": users_url},
                args.port + 1,
            ),
        ]
    else:
        servers = [server(env, args.port)]

    print(f"stage {args.stage} wiring:")
    for name, value in sorted(env.items()):
        print(f"  {name}={'<hidden>' if 'PASSWORD' in name else value}")
    for s in servers:
        app = s.config.app
        assert isinstance(app, Starlette)
        settings = app.state.services.settings
        print(f"{settings.role} service: http://{HOST}:{s.config.port}  capabilities {settings.capabilities()}")
    # The loop `python -m service` runs (uvicorn's loop="uvloop"): a local run costs per request what a host does.
    uvloop.run(serve(servers))


if __name__ == "__main__":
    main()
