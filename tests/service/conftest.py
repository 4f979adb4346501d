"""Fixtures for the service tests: real MariaDB and Redis on 127.0.0.1, the service
served by uvicorn over real sockets, and a primary/replica pair started here."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
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

MYSQL_PORT = 3306
REDIS_PORT = 6379
PASSWORD = "correct horse"
PASSWORD_HASH = hash_password(PASSWORD)


class _Sql:
    """Test-side SQL over one event loop and one connection per server, reused."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.conns: dict[tuple[int, str | None], Any] = {}
        self.lock = threading.Lock()

    async def _run(self, port: int, query: str, args: tuple[Any, ...], db: str | None) -> list[Any]:
        conn = self.conns.get((port, db))
        if conn is None:
            conn = await asyncmy.connect(
                host="127.0.0.1", port=port, user="root", password="", db=db, autocommit=True, connect_timeout=3
            )
            self.conns[(port, db)] = conn
        try:
            async with conn.cursor() as cur:
                await cur.execute(query, args)
                return list(await cur.fetchall() or [])
        except (OSError, MySQLError):
            del self.conns[(port, db)]
            conn.close()
            raise

    def __call__(
        self, port: int, query: str, args: tuple[Any, ...] = (), db: str | None = None
    ) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.loop.run_until_complete(self._run(port, query, args, db))

    def forget(self, port: int) -> None:
        with self.lock:
            for key in [k for k in self.conns if k[0] == port]:
                self.conns.pop(key).close()


sql = _Sql()


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

    def start(env: dict[str, str], databases_used: list[str] = ()) -> Service:  # type: ignore[assignment]
        for name in databases_used:
            if name not in databases:
                databases.append(name)
        service = Service(Settings.from_env(env)).start()
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not on PATH: the replication tests need the MariaDB server package")
    return path


class Replication:
    """A MariaDB primary and a replica of it, each with its own datadir and port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, port: int, server_id: int, extra: list[str]) -> None:
        datadir = self.root / name
        command = [
            _binary("mariadbd"),
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.root / name}.sock",
            f"--pid-file={self.root / name}.pid",
            f"--server-id={server_id}",
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=4M",
            "--skip-name-resolve",
            "--skip-performance-schema",
            "--max-connections=60",
            *extra,
        ]
        with open(self.root / f"{name}.err", "wb") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))

    def start(self) -> None:
        subprocess.run(
            [
                _binary("mariadb-install-db"),
                "--no-defaults",
                "--user=root",
                f"--datadir={self.root / 'primary'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            check=True,
            capture_output=True,
        )
        # The replica starts as a copy of the fresh primary, before the primary's first binlog.
        shutil.copytree(self.root / "primary", self.root / "replica")
        self._start("primary", self.primary_port, 1, ["--log-bin=primary-bin", "--binlog-format=ROW"])
        self._start("replica", self.replica_port, 2, ["--skip-log-bin", "--read-only"])
        for port in (self.primary_port, self.replica_port):
            self._wait(port)
        sql(self.primary_port, "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pass'")
        sql(self.primary_port, "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'")
        sql(
            self.replica_port,
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='repl',"
            " MASTER_PASSWORD='repl-pass', MASTER_USE_GTID=slave_pos",
            (self.primary_port,),
        )
        sql(self.replica_port, "START SLAVE")

    def _wait(self, port: int) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                sql(port, "SELECT 1")
                return
            except (OSError, MySQLError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    logs = "\n".join(p.read_text()[-2000:] for p in self.root.glob("*.err"))
                    raise RuntimeError(f"mariadbd on port {port} did not start:\n{logs}") from None
                time.sleep(0.05)

    def sync(self) -> None:
        """Wait until the replica has applied everything the primary has written."""
        (position,) = sql(self.primary_port, "SELECT @@gtid_binlog_pos")[0]
        (result,) = sql(self.replica_port, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,))[0]
        assert result == 0, "the replica did not catch up within 10 s"

    def stop(self) -> None:
        # Throwaway data: no clean InnoDB shutdown needed.
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


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
