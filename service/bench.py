"""``python -m service.bench``: what one request costs the service, per stage wiring and
request kind, and stage-0 wiring (MySQL only) against stage-3 wiring (cache-aside in
Redis plus a reader) under the same read-heavy mix.

The service runs as its own process (one worker unless told otherwise); the load
generator (`service.bench_load`) runs in this process and sends only to 127.0.0.1,
bounded in requests and time. For each phase the bench measures the service
processes' CPU time per request from /proc (apart from the load generator), the
throughput one fully busy vCPU would give (1 s / CPU per request), p50/p99 latency,
and the database statements per request and their server CPU from MariaDB's user
statistics for the service's own MySQL user (`service.bench_meters`).

Kinds: `health` (no I/O), `cached_read` (a user timeline or user read that Redis
answers), `uncached_read` (a user timeline page not in the cache: at stage 3 a miss
then a fill, at stage 0 a plain read), `write` (a new post) and `mixed`: 100 reads to
1 write, the reads 50 % home feeds (``/users/{id}/feed``: the user's and their
followees' newest posts, which the database must gather and sort), 30 % user
timelines and 20 % single posts, for users drawn from a skewed, Zipf-like popularity,
as are the accounts each user follows. Both wirings replay the same seeded sequences.

``--out FILE`` writes the results as JSON: `tools/capacity/` reads them (`make bench`
writes `tools/capacity/measured.json`)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncmy
import redis

from service import bench_meters
from service.bench_load import HOST, PASSWORD, Op, drive, sign_in
from service.config import DbEndpoint
from service.ids import new_ulid
from service.migrate import migrate_database
from service.passwords import hash_password
from service.run_local import free_port

DB = "scaling_app_bench"
WRITERS = 20
FOLLOWS = 50
# Users whose timeline and user record the cached-read phase keeps hot.
HOT_USERS = 200
# Wirings the service has: stages 0-2 run it on MySQL alone, 3-4 add Redis and a reader.
WIRINGS: dict[int, tuple[str, tuple[int, ...]]] = {0: ("MySQL only", (0, 1, 2)), 3: ("cache + reader", (3, 4))}


# -- data set ------------------------------------------------------------------


async def seed(users: int, posts_per_user: int) -> None:
    endpoint = DbEndpoint(HOST, 3306, "root", DB, "")
    conn = await asyncmy.connect(host=HOST, port=3306, user="root", password="", autocommit=True)
    async with conn.cursor() as cur:
        await cur.execute("SET SESSION sql_notes = 0")
        await cur.execute(f"CREATE DATABASE IF NOT EXISTS {DB}")
        await cur.execute(f"CREATE TABLE IF NOT EXISTS {DB}.bench_seed (users INT, posts INT)")
        await cur.execute(f"SELECT users, posts FROM {DB}.bench_seed")
        if await cur.fetchall() == ((users, posts_per_user),):
            print(f"data set: reusing {users} users x {posts_per_user} posts in {DB}")
            conn.close()
            return
        await cur.execute(f"DROP DATABASE {DB}")
    conn.close()
    await migrate_database(endpoint)
    started = time.perf_counter()
    conn = await asyncmy.connect(host=HOST, port=3306, user="root", password="", db=DB, autocommit=False)
    password_hash = hash_password(PASSWORD)
    body = "Benchmark post with a realistic length of text, " * 4
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO users (id, username, password_hash) VALUES (%s, %s, %s)",
            [(u, f"user{u}", password_hash) for u in range(1, users + 1)],
        )
        # Posts interleave users in time, as real traffic does, so one user's posts
        # are spread over the table rather than written side by side.
        base = int(time.time() * 1000) - posts_per_user * users * 1000
        batch: list[tuple[Any, ...]] = []
        for n in range(posts_per_user):
            for u in range(1, users + 1):
                ms = base + (n * users + u) * 1000
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
                batch.append((u, new_ulid(ms), f"{body}#{n}", stamp, stamp))
                if len(batch) == 5000:
                    await cur.executemany(
                        "INSERT INTO posts (user_id, id, body, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                        batch,
                    )
                    batch = []
        if batch:
            await cur.executemany(
                "INSERT INTO posts (user_id, id, body, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)", batch
            )
        popularity = list(itertools.accumulate(1 / (rank**1.1) for rank in range(1, users + 1)))
        rng = random.Random(0)
        follows = set()
        for follower in range(1, users + 1):
            for followee in rng.choices(range(1, users + 1), cum_weights=popularity, k=FOLLOWS):
                if followee != follower:
                    follows.add((follower, followee))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        await cur.executemany(
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES (%s, %s, %s)",
            [(a, b, stamp) for a, b in follows],
        )
        await cur.execute("CREATE TABLE bench_seed (users INT, posts INT)")
        await cur.execute("INSERT INTO bench_seed VALUES (%s, %s)", (users, posts_per_user))
    await conn.commit()
    conn.close()
    print(f"data set: seeded {users} users x {posts_per_user} posts in {time.perf_counter() - started:.1f} s")


async def recent_post_ids(users: int, per_user: int) -> dict[int, list[str]]:
    """The newest posts of each user: the single posts that get read are recent ones."""
    conn = await asyncmy.connect(host=HOST, port=3306, user="root", password="", db=DB)
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT user_id, id FROM (SELECT user_id, id, ROW_NUMBER() OVER"
            " (PARTITION BY user_id ORDER BY id DESC) AS n FROM posts WHERE user_id <= %s) AS r"
            " WHERE n <= %s",
            (users, per_user),
        )
        rows = await cur.fetchall()
    conn.close()
    recent: dict[int, list[str]] = {}
    for user_id, post in rows:
        recent.setdefault(int(user_id), []).append(f"{user_id}-{post}")
    return recent


def mixed_workload(users: int, recent: dict[int, list[str]], total: int, seed: int) -> list[Op]:
    """The same (method, path) sequence for both wirings; 'W' marks a write."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1 / (rank**1.1) for rank in range(1, users + 1)))
    ops: list[Op] = []
    for i in range(total):
        if i % 101 == 100:
            ops.append(("W", ""))
            continue
        uid = rng.choices(range(1, users + 1), cum_weights=weights)[0]
        kind = rng.random()
        if kind < 0.5:
            ops.append(("GET", f"/users/{uid}/feed"))
        elif kind < 0.8:
            ops.append(("GET", f"/users/{uid}/posts"))
        else:
            ops.append(("GET", f"/posts/{rng.choice(recent[uid])}"))
    return ops


# -- the service under test ----------------------------------------------------


def start_service(stage: int, port: int, workers: int, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "APP_STAGE": str(stage),
        "PORT": str(port),
        "INSTANCE_ID": f"bench-{stage}",
        "WEB_CONCURRENCY": str(workers),
        "DB_WRITER_HOST": HOST,
        "DB_USER": bench_meters.SERVICE_USER,
        "DB_PASSWORD": bench_meters.SERVICE_PASSWORD,
        "DB_NAME": DB,
    }
    if stage >= 3:
        env.update(
            {
                "DB_READER_HOST": HOST,
                "CACHE_HOST": HOST,
                "CACHE_PORT": "6379",
                "CACHE_TLS": "false",
                "CACHE_KEY_PREFIX": "bench:",
            }
        )
    process = subprocess.Popen([sys.executable, "-m", "service"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.seek(0)
                raise RuntimeError(log.read().decode()[-2000:] or "service did not start") from None
            time.sleep(0.1)


def clear_cache() -> None:
    client = redis.Redis(host=HOST, port=6379)
    keys = list(client.scan_iter(match="bench:*", count=5000))
    for start in range(0, len(keys), 5000):
        client.delete(*keys[start : start + 5000])


# -- phases --------------------------------------------------------------------


def hot_reads() -> list[Op]:
    return [("GET", path) for u in range(1, HOT_USERS + 1) for path in (f"/users/{u}/posts", f"/users/{u}")]


def cold_reads(users: int, total: int, seed: int) -> list[Op]:
    """Timeline pages no earlier phase asked for: distinct (user, limit) pairs; limit 20,
    the default, is left to the other phases."""
    pages = [(u, limit) for u in range(1, users + 1) for limit in range(1, 20)]
    random.Random(seed).shuffle(pages)
    return [("GET", f"/users/{u}/posts?limit={limit}") for u, limit in pages[:total]]


def measure(phase: Phase, pid: int, port: int, args: argparse.Namespace, tokens: list[str]) -> dict[str, Any]:
    """One phase: the ops sent, with what they cost the service and the database."""
    connections = phase.connections or args.connections
    cpu_before, db_before = bench_meters.process_cpu_seconds(pid), bench_meters.db_counters()
    result = asyncio.run(drive(port, phase.ops, connections, args.seconds, tokens))
    cpu = bench_meters.process_cpu_seconds(pid) - cpu_before
    db = bench_meters.db_counters() - db_before
    count = len(result.latencies)
    return {
        "kind": phase.kind,
        "connections": connections,
        "requests": count,
        "seconds": round(result.elapsed, 2),
        "requests_per_s": round(count / result.elapsed),
        "service_cpu_us_per_request": round(cpu / count * 1e6),
        "requests_per_vcpu_s": round(count / cpu) if cpu else None,
        "p50_ms": round(result.percentile_ms(0.5), 2),
        "p99_ms": round(result.percentile_ms(0.99), 2),
        "db_statements_per_request": round(db.statements / count, 2),
        "db_cpu_us_per_request": round(db.cpu_seconds / count * 1e6),
        "response_bytes_per_request": round(result.response_bytes / count),
        "errors": result.errors,
        "x_cache": dict(sorted(result.cache.items())),
        "x_db_route": dict(sorted(result.routes.items())),
    }


def show(stage: int, phase: dict[str, Any]) -> None:
    print(
        f"stage {stage} {phase['kind']:<26} {phase['requests']:>6} req {phase['requests_per_s']:>6}/s "
        f"cpu {phase['service_cpu_us_per_request']:>5} us/req = {phase['requests_per_vcpu_s'] or 0:>5} req/vCPU-s "
        f"p50 {phase['p50_ms']:.2f} ms p99 {phase['p99_ms']:.2f} ms db {phase['db_statements_per_request']} stmt "
        f"{phase['db_cpu_us_per_request']} us/req errors {phase['errors']} X-Cache {phase['x_cache']} "
        f"X-DB-Route {phase['x_db_route']}",
        flush=True,
    )


@dataclass(frozen=True)
class Phase:
    kind: str
    ops: list[Op]
    warmup: list[Op] = field(default_factory=list)
    # None: the run's --connections. One connection shows a request's full cost: nothing
    # shares its event-loop turns and system calls, as at low load.
    connections: int | None = None


def phases(stage: int, args: argparse.Namespace, mixed: list[Op], warmup: list[Op]) -> list[Phase]:
    serial = args.requests // 2
    found = [Phase("health", [("GET", "/health")] * args.requests)]
    found.append(Phase("health_one_connection", [("GET", "/health")] * serial, connections=1))
    if stage >= 3:
        hot = hot_reads()
        found.append(Phase("cached_read", random.Random(4).choices(hot, k=args.requests), hot))
        found.append(Phase("cached_read_one_connection", random.Random(5).choices(hot, k=serial), connections=1))
    found += [
        Phase("uncached_read", cold_reads(args.users, args.requests, seed=3)),
        Phase("write", [("W", "")] * (args.requests // 5)),
        Phase("mixed", mixed, warmup),
    ]
    return found


def run_wiring(stage: int, args: argparse.Namespace, mixed: list[Op], warmup: list[Op]) -> dict[str, Any]:
    clear_cache()
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = start_service(stage, port, args.workers, log)
        try:
            tokens = asyncio.run(sign_in(port, range(1, min(WRITERS, args.users) + 1)))
            results = []
            for phase in phases(stage, args, mixed, warmup):
                if phase.warmup:
                    asyncio.run(drive(port, phase.warmup, args.connections, args.seconds, tokens))
                results.append(measure(phase, process.pid, port, args, tokens))
                show(stage, results[-1])
        finally:
            process.terminate()
            process.wait(timeout=10)
            clear_cache()
    name, stages = WIRINGS[stage]
    return {"wiring": name, "env_stage": stage, "stages": list(stages), "phases": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--posts-per-user", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000, help="per single-kind phase (writes: a fifth)")
    parser.add_argument("--mixed-requests", type=int, default=20000, help="mixed phase, after warm-up")
    parser.add_argument("--warmup", type=int, default=10000, help="mixed requests before measuring")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args()

    asyncio.run(seed(args.users, args.posts_per_user))
    bench_meters.ensure_service_user(DB)
    recent = asyncio.run(recent_post_ids(args.users, 5))
    warmup = mixed_workload(args.users, recent, args.warmup, seed=1)
    mixed = mixed_workload(args.users, recent, args.mixed_requests, seed=2)
    print(
        f"load: {args.connections} connections, {args.workers} service worker(s), {args.requests} requests per "
        f"phase, mixed {args.mixed_requests} (100 reads : 1 write), {os.cpu_count()} cores shared by all processes"
    )
    with bench_meters.user_statistics():
        wirings = [run_wiring(stage, args, mixed, warmup) for stage in WIRINGS]
    rps = {w["env_stage"]: next(p for p in w["phases"] if p["kind"] == "mixed")["requests_per_s"] for w in wirings}
    print(f"mixed req/s, stage 3 / stage 0: {rps[3] / rps[0]:.2f}")
    if args.out:
        report = {
            "measured_on": time.strftime("%Y-%m-%d", time.gmtime()),
            "command": "make bench (python -m service.bench)",
            "machine": f"{os.cpu_count()} cores shared by the load generator, MariaDB and Redis; "
            f"Python {platform.python_version()}",
            "service_workers": args.workers,
            "connections": args.connections,
            "data_set": f"{args.users} users x {args.posts_per_user} posts, {FOLLOWS} follows each",
            "wirings": wirings,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
