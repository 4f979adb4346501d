"""What one benchmark phase cost, measured apart from the load generator: the service
processes' CPU time from /proc, and the database's work for the service's own MySQL
user from MariaDB's user statistics (the server is shared, so global counters would
mix in other clients)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncmy

HOST = "127.0.0.1"
# The service connects as this user, so the user statistics count its queries alone.
SERVICE_USER = "scaling_bench_svc"
SERVICE_PASSWORD = "bench-service-password"
_TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's workers are children of its supervisor)."""
    pids, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            frontier += [int(child) for child in task.read_text().split()]
    return pids


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` and every live descendant."""
    total = 0
    for member in _tree(pid):
        # Fields after the command name (which may hold spaces) start at "state"; utime, stime are 14, 15.
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


@dataclass(frozen=True)
class DbCounters:
    statements: int
    cpu_seconds: float

    def __sub__(self, other: DbCounters) -> DbCounters:
        return DbCounters(self.statements - other.statements, self.cpu_seconds - other.cpu_seconds)


async def _as_root(sql: str, args: tuple[object, ...] = ()) -> tuple[object, ...] | None:
    conn = await asyncmy.connect(host=HOST, port=3306, user="root", password="", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            row = await cur.fetchone()
            return tuple(row) if row else None
    finally:
        conn.close()


def ensure_service_user(database: str) -> None:
    if asyncio.run(_as_root("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (SERVICE_USER, HOST))) is None:
        asyncio.run(_as_root("CREATE USER %s@%s IDENTIFIED BY %s", (SERVICE_USER, HOST, SERVICE_PASSWORD)))
    asyncio.run(_as_root(f"GRANT ALL PRIVILEGES ON `{database}`.* TO %s@%s", (SERVICE_USER, HOST)))


@contextmanager
def user_statistics() -> Iterator[None]:
    """MariaDB's per-user statistics switched on for the run, and back off afterwards if
    they were off (a cheap, global server setting)."""
    row = asyncio.run(_as_root("SELECT @@GLOBAL.userstat"))
    was_on = bool(row and row[0])
    if not was_on:
        asyncio.run(_as_root("SET GLOBAL userstat = 1"))
    try:
        yield
    finally:
        if not was_on:
            asyncio.run(_as_root("SET GLOBAL userstat = 0"))


def db_counters() -> DbCounters:
    """Statements the service's user sent so far and the CPU the server spent on them."""
    row = asyncio.run(
        _as_root(
            "SELECT SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS, CPU_TIME"
            " FROM information_schema.USER_STATISTICS WHERE USER = %s",
            (SERVICE_USER,),
        )
    )
    return DbCounters(int(str(row[0])), float(str(row[1]))) if row else DbCounters(0, 0.0)
