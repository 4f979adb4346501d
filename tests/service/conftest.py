"""Fixtures for the service tests: real MariaDB and Redis on 127.0.0.1, the service
served by uvicorn over real sockets, and a primary/replica pair started here."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncmy
import httpx
import pytest
import redis
import uvicorn
from asyncmy.errors import MySQLError
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from service.app import create_app
from service.config import Settings
from service.passwords import hash_password
from tests.service.openapi_check import OpenApiCheck
from tools.drill.replication import Replication, sql

MYSQL_PORT = 3306
REDIS_PORT = 6379
PASSWORD = "correct horse"
PASSWORD_HASH = hash_password(PASSWORD)


def require_local_servers(mysql_port: int, redis_port: int) -> None:
    """A missing MariaDB or Redis is an error in every test, never a skip."""
    try:
        sql(mysql_port, "SELECT 1")
    except (OSError, MySQLError) as exc:
        pytest.fail(f"MariaDB must be running at 127.0.0.1:{mysql_port} (root, no password): {exc!r}", pytrace=False)
    try:
        redis.Redis(host="127.0.0.1", port=redis_port, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)).ping()
    except (OSError, RedisError) as exc:
        pytest.fail(f"Redis must be running at 127.0.0.1:{redis_port}: {exc!r}", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def local_servers() -> None:
    require_local_servers(MYSQL_PORT, REDIS_PORT)


@pytest.fixture(scope="session")
def run_id() -> str:
    """Names this session's databases and Redis keys so concurrent runs don't collide."""
    return f"svct_{os.getpid()}_{secrets.token_hex(3)}"


async def _drop_database(name: str) -> None:
    conn = await asyncmy.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture(scope="session")
def databases(run_id: str) -> Iterator[list[str]]:
    """Databases created under this run's prefix; dropped together at the end."""
    created: list[str] = []
    yield created
    with ThreadPoolExecutor(max_workers=len(created) or 1) as pool:
        list(pool.map(lambda name: asyncio.run(_drop_database(name)), created))


@pytest.fixture(scope="session")
def redis_cleanup(run_id: str) -> Iterator[None]:
    yield
    client = redis.Redis(host="127.0.0.1", port=REDIS_PORT)
    keys = list(client.scan_iter(match=f"{run_id}*", count=1000))
    if keys:
        client.delete(*keys)


# The document each running service serves, by port: every response a test client sees is checked against it.
_OPENAPI: dict[int, OpenApiCheck] = {}


def _conforms_to_openapi(response: httpx.Response) -> None:
    check = _OPENAPI.get(response.request.url.port or 80)
    if check is not None:
        response.read()
        check.check(response)


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, event_hooks={"response": [_conforms_to_openapi]})


class Service:
    """One instance of the service on a real socket, with an HTTP client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="on",
                loop="asyncio",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""
        self.client: httpx.Client

    def start(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start; see the log above")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        _OPENAPI[port] = OpenApiCheck(httpx.get(f"{self.url}/openapi.json").json())
        self.client = http_client(self.url)
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True

    def wait_stopped(self) -> None:
        self.thread.join(timeout=10)

    def signed_in_user(self, username: str, via_api: bool = False) -> httpx.Client:
        """A new user, and a client that carries its session cookie. Created through
        the API when asked, else inserted directly: each scrypt hash costs ~60 ms."""
        if via_api:
            response = self.client.post("/users", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.text
        else:
            writer = self.settings.writer
            assert writer is not None
            sql(
                writer.port,
                "INSERT INTO users (username, password_hash) VALUES (%s, %s)",
                (username, PASSWORD_HASH),
                db=writer.database,
            )
        client = http_client(self.url)
        response = client.post("/sessions", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.user_id = response.json()["user"]["id"]  # type: ignore[attr-defined]
        return client


@pytest.fixture(scope="session")
def start_service(databases: list[str], redis_cleanup: None, run_id: str) -> Iterator[Any]:
    """Starts services from env-style settings; every one is stopped at session end."""
    started: list[Service] = []

    def start(
        env: dict[str, str],
        databases_used: list[str] = (),  # type: ignore[assignment]
        secret_reader: Callable[[str], str] | None = None,
    ) -> Service:
        for name in databases_used:
            if name not in databases:
                databases.append(name)
        service = Service(Settings.from_env(env, secret_reader=secret_reader)).start()
        started.append(service)
        return service

    yield start
    # Uvicorn notices should_exit on its next tick: ask all first, then wait once.
    for service in started:
        service.stop()
    for service in started:
        service.wait_stopped()


def base_env(run_id: str, name: str, **extra: str) -> dict[str, str]:
    env = {
        "APP_STAGE": "0",
        "INSTANCE_ID": name,
        "DB_WRITER_HOST": "127.0.0.1",
        "DB_PORT": str(MYSQL_PORT),
        "DB_USER": "root",
        "DB_PASSWORD": "",
        "DB_NAME": f"{run_id}_{name}",
    }
    env.update(extra)
    return env


def cache_env(run_id: str) -> dict[str, str]:
    return {
        "CACHE_HOST": "127.0.0.1",
        "CACHE_PORT": str(REDIS_PORT),
        "CACHE_TLS": "false",
        "CACHE_KEY_PREFIX": f"{run_id}:",
    }


def replicated_env(replication: Replication, database: str, instance: str, **extra: str) -> dict[str, str]:
    """A stage-3 instance over the test-started primary and its replica, with `extra` settings."""
    return {
        "APP_STAGE": "3",
        "INSTANCE_ID": instance,
        "DB_WRITER_HOST": "127.0.0.1",
        "DB_PORT": str(replication.primary_port),
        "DB_USER": "root",
        "DB_NAME": database,
        "DB_READER_HOST": f"127.0.0.1:{replication.replica_port}",
        **extra,
    }


@pytest.fixture(scope="session")
def stage0(start_service: Any, run_id: str) -> Service:
    env = base_env(run_id, "s0")
    return start_service(env, [env["DB_NAME"]])


@pytest.fixture(scope="session")
def stage3_pair(start_service: Any, run_id: str) -> tuple[Service, Service]:
    """Two instances over one database and one Redis, as behind a load balancer."""
    name = f"{run_id}_s3"
    shared = {"APP_STAGE": "3", "DB_NAME": name, "DB_READER_HOST": "127.0.0.1", **cache_env(run_id)}
    first = start_service(base_env(run_id, "a", **shared), [name])
    second = start_service(base_env(run_id, "b", **shared, MIGRATE_ON_START="false"))
    return first, second


_replication_dir = tempfile.TemporaryDirectory(prefix="svc-repl-")
_replication = Replication(Path(_replication_dir.name))
_replication_thread: threading.Thread | None = None
_replication_error: list[BaseException] = []


def _start_replication() -> None:
    try:
        _replication.start()
    except (OSError, MySQLError, subprocess.CalledProcessError, RuntimeError) as exc:
        _replication_error.append(exc)


@pytest.fixture(scope="session", autouse=True)
def replication_in_background(local_servers: None) -> Iterator[None]:
    """Starting two mariadbd takes about two seconds: overlap it with other tests."""
    global _replication_thread
    _replication_thread = threading.Thread(target=_start_replication, daemon=True)
    _replication_thread.start()
    yield
    _replication_thread.join()
    _replication.stop()
    sql.forget(_replication.primary_port)
    sql.forget(_replication.replica_port)
    _replication_dir.cleanup()


@pytest.fixture(scope="session")
def replication(replication_in_background: None) -> Replication:
    assert _replication_thread is not None
    _replication_thread.join()
    if _replication_error:
        raise _replication_error[0]
    return _replication
