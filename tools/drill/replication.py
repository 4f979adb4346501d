"""A private MariaDB primary and a replica of it (GTID replication), each with its own
datadir and port, and blocking SQL over one event loop: what the service tests and the
upgrade drill use for a real replicating reader."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import asyncmy
from asyncmy.errors import MySQLError

from service.run_local import free_port


class BlockingSql:
    """SQL from synchronous code, over its own event loop and one reused connection per
    server and database; thread-safe."""

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


sql = BlockingSql()


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
