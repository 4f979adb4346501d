"""The drill's system: per-stage wiring of the service (as scaling_stacks/service_wiring.py
wires it in AWS) over local servers, and instances of the service on 127.0.0.1.

Writer: a private MariaDB primary; from stage 3 a real replica of it as the reader and
Redis for cache and sessions; from stage 5 two shard databases, the shard map in SSM,
credentials in Secrets Manager, posts in DynamoDB, media in S3 and events in SQS (moto);
stage 6 runs the users and posts services apart."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
import uvicorn
from starlette.applications import Starlette

from service import shardmap
from service.app import create_app
from service.config import Settings
from service.posts import create_posts_table
from service.run_local import free_port
from tools.drill.balancer import Backend

HOST = "127.0.0.1"
REGION = "us-east-1"
START_SECONDS = 30.0


@dataclass(frozen=True)
class Servers:
    primary_port: int
    replica_port: int
    redis_port: int = 6379


@dataclass
class World:
    """One transition's databases, keys and AWS resources, named after ``name``."""

    servers: Servers
    name: str
    balancer_port: int
    poll_seconds: float = 0.5
    aws: dict[str, str] = field(default_factory=dict)

    @property
    def databases(self) -> list[str]:
        return [self.name, f"{self.name}_shard0", f"{self.name}_shard1"]

    def create_aws(self) -> None:
        """What the stage-5 deploy creates before the hosts roll."""
        if self.aws:
            return
        table = f"{self.name}-posts"
        create_posts_table(boto3.client("dynamodb", region_name=REGION), table)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=f"{self.name.replace('_', '-')}-media")
        queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName=f"{self.name}-work")["QueueUrl"]
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"{self.name}-db", SecretString=json.dumps({"username": "root", "password": ""})
        )["ARN"]
        shards = [
            {"id": f"shard-{i}", "host": HOST, "port": self.servers.primary_port, "secret_arn": secret, "database": db}
            for i, db in enumerate(self.databases[1:])
        ]
        parameter = f"/{self.name}/shard-map"
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=parameter, Type="String", Value=json.dumps(shardmap.build_shard_map(shards))
        )
        self.aws = {
            "DB_SECRET_ARN": secret,
            "SHARD_MAP_PARAMETER": parameter,
            "POSTS_TABLE": table,
            "MEDIA_BUCKET": f"{self.name.replace('_', '-')}-media",
            "QUEUE_URL": queue,
        }

    def env(self, stage: int, instance: str, role: str = "all") -> dict[str, str]:
        env = {
            "APP_STAGE": str(stage),
            "INSTANCE_ID": instance,
            "AWS_REGION": REGION,
            "DB_WRITER_HOST": HOST,
            "DB_PORT": str(self.servers.primary_port),
            "DB_NAME": self.name,
            "DB_USER": "root",
            "DB_PASSWORD": "",
            "PLACEMENT_POLL_SECONDS": str(self.poll_seconds),
            "DB_POOL_SIZE": "4",
        }
        if stage >= 3:
            env.update(
                DB_READER_HOST=f"{HOST}:{self.servers.replica_port}",
                CACHE_HOST=HOST,
                CACHE_PORT=str(self.servers.redis_port),
                CACHE_TLS="false",
                CACHE_KEY_PREFIX=f"{self.name}:",
            )
        if stage >= 5:
            self.create_aws()
            del env["DB_USER"], env["DB_PASSWORD"]
            env.update(self.aws)
        if stage >= 6:
            env["SERVICE_ROLE"] = role
            if role == "posts":
                env["USERS_SERVICE_URL"] = f"http://{HOST}:{self.balancer_port}"
        return env

    def slot(self, stage: int, index: int) -> list[tuple[str, dict[str, str]]]:
        """The instances that fill one place of the fleet: one monolith, or at stage 6 one
        task of each service."""
        if stage < 6:
            name = f"s{stage}-{index}"
            return [(name, self.env(stage, name))]
        return [(f"s6-{role}-{index}", self.env(stage, f"s6-{role}-{index}", role)) for role in ("users", "posts")]


class Instance:
    """The service with one wiring, on its own port in this process's event loop."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.settings = Settings.from_env(env)
        self.name = name
        port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings),
                host=HOST,
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
                timeout_keep_alive=120,
            )
        )
        self.backend = Backend(name, port, self.settings.role)
        self._task: asyncio.Task[Any] | None = None

    async def start(self) -> Instance:
        self._task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError(f"instance {self.name} did not start")
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, START_SECONDS)

    def data_mode(self) -> str:
        app = cast(Starlette, self.server.config.app)
        return str(app.state.services.placement.mode)
