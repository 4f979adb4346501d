"""The app's database credentials rotate under load without a failed request.

The database user is created by the custom-resource handler the CDK app deploys
(lambda/db_app_user), and rotated the way Secrets Manager's multi-user rotation for MySQL
does it: the user the secret does not name is created if missing with the current user's
grants, given a new password, and the secret switches to it; the user switched away from
keeps its password until the rotation after. Requests run the whole time."""

from __future__ import annotations

import importlib.util
import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pymysql
import pytest

from tests.service.conftest import MYSQL_PORT, Service, sql

HANDLER = Path(__file__).resolve().parents[2] / "lambda" / "db_app_user" / "app.py"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-user"


def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("db_app_user", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_app_user = _load_handler()


class SecretStore:
    """Secrets Manager for one secret: the current version, read the way the service reads it."""

    def __init__(self, value: dict[str, str]) -> None:
        self.value = value
        self.reads = 0
        self.lock = threading.Lock()

    def read(self, arn: str) -> str:
        assert arn == SECRET_ARN
        with self.lock:
            self.reads += 1
            return json.dumps(self.value)

    def put(self, value: dict[str, str]) -> None:
        with self.lock:
            self.value = value


def root() -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)


def rotate(store: SecretStore) -> str:
    """One multi-user rotation step (createSecret, setSecret, finishSecret); returns the new user."""
    current = store.value["username"]
    base = db_app_user.base_name(current)
    pending = base + db_app_user.CLONE_SUFFIX if current == base else base
    password = secrets.token_urlsafe(24)
    conn = root()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (pending, password))
            cur.execute("SHOW GRANTS FOR %s@'%%'", (current,))
            for (grant,) in cur.fetchall():
                if grant.startswith("GRANT USAGE"):
                    continue
                cur.execute(grant.split(" TO ")[0] + " TO %s@'%%'", (pending,))
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (pending, password))
    finally:
        conn.close()
    store.put({**store.value, "username": pending, "password": password})
    return pending


def signs_in(user: str, password: str) -> bool:
    try:
        pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user=user, password=password).close()
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] == 1045, exc
        return False
    return True


def connected_users(database: str) -> set[str]:
    """The users the service is connected as (the test's own root connections aside)."""
    rows = sql(
        MYSQL_PORT, "SELECT user FROM information_schema.processlist WHERE db = %s AND user <> 'root'", (database,)
    )
    return {row[0] for row in rows}


class SteadyLoad:
    """Signed-in requests in a loop on two threads until stopped; every status kept."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(2)]

    def _run(self, n: int) -> None:
        client = self.service.signed_in_user(f"load{n}")
        for i in range(20_000):
            if self.stop.is_set():
                break
            response = client.post("/posts", json={"body": f"post {i}"}) if i % 5 == 0 else client.get("/me")
            self.statuses.append(response.status_code)
        client.close()

    def __enter__(self) -> SteadyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=20)


def wait_for(predicate: Any, what: str, attempts: int = 400) -> None:
    event = threading.Event()
    for _ in range(attempts):
        if predicate():
            return
        event.wait(0.025)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.fixture
def app_user(run_id: str, databases: list[str]) -> Iterator[tuple[str, SecretStore]]:
    """A database and its app user, made by the deploy-time handler, and the user's secret."""
    token = secrets.token_hex(3)
    database = f"{run_id}_rot_{token}"
    databases.append(database)
    user = f"rot_{token}_{run_id[-6:]}"
    password = secrets.token_urlsafe(24)
    conn = root()
    try:
        granted = db_app_user.ensure_app_user(conn, username=user, password=password, database=database)
        assert granted == [user]
        yield database, SecretStore({"username": user, "password": password})
    finally:
        with conn.cursor() as cur:
            for name in (user, user + db_app_user.CLONE_SUFFIX):
                cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
        conn.close()


def start(start_service: Any, database: str, store: SecretStore, max_age: float) -> Service:
    env = {
        "APP_STAGE": "0",
        "INSTANCE_ID": database,
        "DB_WRITER_HOST": "127.0.0.1",
        "DB_PORT": str(MYSQL_PORT),
        "DB_NAME": database,
        "DB_SECRET_ARN": SECRET_ARN,
        "DB_POOL_SIZE": "6",
        "DB_CREDENTIALS_MAX_AGE_SECONDS": str(max_age),
    }
    return start_service(env, [database], secret_reader=store.read)


def test_the_handler_grants_only_the_app_database_and_keeps_passwords(app_user: tuple[str, SecretStore]) -> None:
    database, store = app_user
    user, password = store.value["username"], store.value["password"]
    grants = [row[0] for row in sql(MYSQL_PORT, "SHOW GRANTS FOR %s@'%%'", (user,))]
    assert len(grants) == 2 and grants[0].startswith("GRANT USAGE ON *.*"), grants
    assert grants[1].startswith(
        f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, REFERENCES, INDEX, ALTER ON `{database}`.*"
    ), grants
    assert "GRANT OPTION" not in " ".join(grants)
    clone = rotate(store)
    # A redeploy after a rotation grants to both users and resets no password.
    conn = root()
    try:
        again = db_app_user.ensure_app_user(
            conn, username=store.value["username"], password="not-applied", database=database
        )
    finally:
        conn.close()
    assert again == sorted([user, clone])
    assert signs_in(user, password) and signs_in(clone, store.value["password"])


def test_rotations_under_load_fail_no_request(start_service: Any, app_user: tuple[str, SecretStore]) -> None:
    """Secret re-read every 0.2 s: after each rotation the service moves to the new user
    and drains its connections as the old one, while requests keep succeeding."""
    database, store = app_user
    first = store.value["username"]
    service = start(start_service, database, store, max_age=0.2)
    with SteadyLoad(service) as load:
        wait_for(lambda: len(load.statuses) > 20, "the load runs")
        old_password = store.value["password"]
        second = rotate(store)
        wait_for(lambda: connected_users(database) == {second}, f"only {second} is connected")
        rotate(store)  # back to the first user, with a new password: its old one is gone
        assert not signs_in(first, old_password)
        wait_for(lambda: connected_users(database) == {first}, f"only {first} is connected")
        served = len(load.statuses)
        wait_for(lambda: len(load.statuses) > served + 20, "requests after the rotations")
    assert load.statuses and set(load.statuses) <= {200, 201}, sorted(set(load.statuses))


def test_a_refused_password_is_followed_at_once(start_service: Any, app_user: tuple[str, SecretStore]) -> None:
    """Secret not due for a re-read: the old password is revoked and a burst needs new
    connections, which are refused; the service re-reads the secret and retries them."""
    database, store = app_user
    first, old_password = store.value["username"], store.value["password"]
    service = start(start_service, database, store, max_age=3600)
    client = service.signed_in_user("burst")
    reads = store.reads
    second = rotate(store)
    conn = root()
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (first, secrets.token_urlsafe(24)))
    finally:
        conn.close()
    assert not signs_in(first, old_password)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: client.get("/me").status_code, range(32)))
    client.close()
    assert statuses == [200] * 32
    assert store.reads > reads, "the secret was re-read after the refusal"
    assert second in connected_users(database)
