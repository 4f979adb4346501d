"""Idempotent schema migrations for the directory database and every shard, and the
command line of the data migration (``service/migration.py``).

Schema: run at start-up (unless MIGRATE_ON_START=false) or as ``python -m service.migrate``.
A named lock makes instances that boot together apply each migration once.

Data, with the environment of the new wiring (the fleet runs it by itself; these are for
an operator): ``python -m service.migrate data status|run|verify|cleanup``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from service.config import DbEndpoint, Settings
from service.db import create_pool

log = logging.getLogger("service.migrate")

# Append only: a deployed database has run the earlier entries.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE IF NOT EXISTS users (
                id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                username VARCHAR(32) NOT NULL,
                password_hash VARCHAR(255) NOT NULL,
                created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
                UNIQUE KEY uq_users_username (username)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS sessions (
                token_hash BINARY(32) NOT NULL PRIMARY KEY,
                user_id BIGINT UNSIGNED NOT NULL,
                username VARCHAR(32) NOT NULL,
                expires_at DATETIME NOT NULL,
                KEY ix_sessions_expires (expires_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS profiles (
                user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
                display_name VARCHAR(64) NOT NULL,
                bio VARCHAR(280) NOT NULL,
                updated_at DATETIME(3) NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS posts (
                user_id BIGINT UNSIGNED NOT NULL,
                id CHAR(26) CHARACTER SET ascii NOT NULL,
                body VARCHAR(500) NOT NULL,
                media_key VARCHAR(200) NULL,
                created_at DATETIME(3) NOT NULL,
                updated_at DATETIME(3) NOT NULL,
                PRIMARY KEY (user_id, id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    ),
    (
        2,
        [
            """CREATE TABLE IF NOT EXISTS follows (
                follower_id BIGINT UNSIGNED NOT NULL,
                followee_id BIGINT UNSIGNED NOT NULL,
                created_at DATETIME(3) NOT NULL,
                PRIMARY KEY (follower_id, followee_id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    ),
    (
        3,
        [
            # Where user-owned rows live (service/placement.py) and the data migration's checkpoints.
            """CREATE TABLE IF NOT EXISTS data_placement (
                id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
                current_placement MEDIUMTEXT NOT NULL,
                target_placement MEDIUMTEXT NULL,
                phase VARCHAR(16) NOT NULL,
                previous_placement MEDIUMTEXT NULL,
                updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS data_migration_buckets (
                target CHAR(16) CHARACTER SET ascii NOT NULL,
                bucket INT UNSIGNED NOT NULL,
                status VARCHAR(16) NOT NULL,
                records INT UNSIGNED NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                updated_at DATETIME(3) NOT NULL,
                PRIMARY KEY (target, bucket)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS service_hosts (
                instance_id VARCHAR(255) NOT NULL PRIMARY KEY,
                placement CHAR(16) CHARACTER SET ascii NOT NULL,
                has_cache TINYINT(1) NOT NULL,
                mode VARCHAR(16) NOT NULL,
                seen_at DATETIME(3) NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    ),
]


async def migrate_database(endpoint: DbEndpoint) -> int:
    """Create the database if needed and apply pending migrations; returns how many."""
    server = await create_pool(endpoint, 1, database=False)
    try:
        async with server.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SET SESSION sql_notes = 0")  # "already exists" is expected
            name = endpoint.database.replace("`", "``")
            await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    finally:
        server.close()
        await server.wait_closed()

    pool = await create_pool(endpoint, 1)
    applied = 0
    try:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SET SESSION sql_notes = 0")
            await cur.execute("SELECT GET_LOCK(%s, 60)", (f"migrate:{endpoint.database}",))
            (locked,) = await cur.fetchone()
            if locked != 1:
                raise RuntimeError("timed out waiting for the migration lock")
            try:
                await cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INT NOT NULL PRIMARY KEY,"
                    " applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                )
                await cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in await cur.fetchall()}
                for version, statements in MIGRATIONS:
                    if version in done:
                        continue
                    for statement in statements:
                        await cur.execute(statement)
                    await cur.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)",
                        (version,),
                    )
                    applied += 1
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (f"migrate:{endpoint.database}",))
    finally:
        pool.close()
        await pool.wait_closed()
    return applied


async def migrate_all(settings: Settings) -> None:
    endpoints = [settings.writer] if settings.writer else []
    endpoints += [shard.endpoint for shard in settings.shards]
    for endpoint in endpoints:
        applied = await migrate_database(endpoint)
        log.info(
            "schema of %s@%s: %d migrations applied",
            endpoint.database,
            endpoint.host,
            applied,
        )


async def _data_command(command: str, wait_seconds: float) -> int:
    from service.db import Database
    from service.migration import DataMigration, cleanup, status
    from service.placement import Placement

    settings = Settings.from_env()
    await migrate_all(settings)
    db = Database(settings)
    await db.open()
    try:
        migration = DataMigration(db, settings, Placement.of(settings))
        if command == "run":
            outcome = await migration.run(fleet_wait_seconds=wait_seconds)
            print(json.dumps({"outcome": outcome, **await status(db)}))
            return 0 if outcome == "done" else 3
        if command == "verify":
            differing = await migration.differing_buckets()
            print(json.dumps({"differing_buckets": differing, **await status(db)}))
            return 0 if not differing else 3
        if command == "cleanup":
            print(json.dumps({"removed_rows": await cleanup(db, settings)}))
            return 0
        print(json.dumps(await status(db)))
        return 0
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service.migrate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what")
    data = sub.add_parser("data", help="the data migration to this environment's wiring")
    data.add_argument("command", choices=["status", "run", "verify", "cleanup"])
    data.add_argument("--wait", type=float, default=60.0, help="seconds run waits for old hosts to go (60)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if args.what == "data":
        raise SystemExit(asyncio.run(_data_command(args.command, args.wait)))
    asyncio.run(migrate_all(Settings.from_env()))


if __name__ == "__main__":
    main()
