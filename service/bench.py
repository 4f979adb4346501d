"""``python -m service.bench``: stage-0 wiring (MySQL only) against stage-3 wiring
(cache-aside in Redis plus a reader) under the same read-heavy load.

The service runs as its own process; the load generator is a minimal HTTP/1.1
keep-alive client on asyncio in this process, so that it costs the shared two
cores as little as possible. Every request goes to 127.0.0.1, the number of
requests and the time per stage are bounded, and both stages replay the same
seeded sequence of requests: 100 reads to 1 write (a new post). Reads are home
timelines (``/users/{id}/feed``: the user's and their followees' newest posts, which
the database must gather and sort), user timelines and single posts, for users drawn
from a skewed, Zipf-like popularity, as are the accounts each user follows."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import asyncmy
import orjson
import redis

from service.config import DbEndpoint
from service.ids import new_ulid
from service.migrate import migrate_database
from service.passwords import hash_password

DB = "scaling_app_bench"
PASSWORD = "bench-password"
WRITERS = 20
FOLLOWS = 50
HOST = "127.0.0.1"


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cache: dict[str, int] = field(default_factory=dict)
    routes: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


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


def workload(users: int, recent: dict[int, list[str]], total: int, seed: int) -> list[tuple[str, str]]:
    """The same (method, path) sequence for both stages; 'W' marks a write."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1 / (rank**1.1) for rank in range(1, users + 1)))
    ops: list[tuple[str, str]] = []
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


# -- load generator ------------------------------------------------------------


async def request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes = b"",
    cookie: str = "",
) -> tuple[int, dict[str, str]]:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if cookie:
        head += f"Cookie: sid={cookie}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


async def sign_in(port: int, users: int) -> list[str]:
    tokens = []
    reader, writer = await asyncio.open_connection(HOST, port)
    for uid in range(1, min(WRITERS, users) + 1):
        body = orjson.dumps({"username": f"user{uid}", "password": PASSWORD})
        status, headers = await request(reader, writer, "POST", "/sessions", body)
        assert status == 200, f"sign-in failed with {status}"
        tokens.append(headers["set-cookie"].split(";", 1)[0].split("=", 1)[1])
    writer.close()
    return tokens


async def drive(
    port: int, ops: list[tuple[str, str]], connections: int, seconds: float, tokens: list[str], result: Result | None
) -> None:
    queue = iter(ops)
    deadline = time.perf_counter() + seconds
    writes = itertools.count()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for method, path in queue:
                if time.perf_counter() > deadline:
                    return
                cookie = ""
                body = b""
                if method == "W":
                    n = next(writes)
                    method, path, cookie = "POST", "/posts", tokens[n % len(tokens)]
                    body = orjson.dumps({"body": f"bench write {n}"})
                started = time.perf_counter()
                status, headers = await request(reader, writer, method, path, body, cookie)
                if result is None:
                    continue
                result.latencies.append(time.perf_counter() - started)
                if status >= 400:
                    result.errors += 1
                for name, counts in (("x-cache", result.cache), ("x-db-route", result.routes)):
                    value = headers.get(name, "?")
                    counts[value] = counts.get(value, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    if result is not None:
        result.elapsed = time.perf_counter() - started


# -- the service under test ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_service(stage: int, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "APP_STAGE": str(stage),
        "PORT": str(port),
        "INSTANCE_ID": f"bench-{stage}",
        "WEB_CONCURRENCY": str(workers),
        "DB_WRITER_HOST": HOST,
        "DB_USER": "root",
        "DB_PASSWORD": "",
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
    process = subprocess.Popen(
        [sys.executable, "-m", "service"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    process.stderr.read().decode()[-2000:] if process.stderr else "service did not start"
                ) from None
            time.sleep(0.1)


def clear_cache() -> None:
    client = redis.Redis(host=HOST, port=6379)
    keys = list(client.scan_iter(match="bench:*", count=5000))
    for start in range(0, len(keys), 5000):
        client.delete(*keys[start : start + 5000])


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def run_stage(stage: int, args: argparse.Namespace, ops: list[tuple[str, str]], warmup: list[tuple[str, str]]) -> float:
    clear_cache()
    port = free_port()
    process = start_service(stage, port, args.workers)
    try:
        tokens = asyncio.run(sign_in(port, args.users))
        asyncio.run(drive(port, warmup, args.connections, args.seconds, tokens, None))
        result = Result()
        asyncio.run(drive(port, ops, args.connections, args.seconds, tokens, result))
    finally:
        process.terminate()
        process.wait(timeout=10)
        clear_cache()
    values = sorted(result.latencies)
    rps = len(values) / result.elapsed
    print(
        f"stage {stage}: {len(values)} requests in {result.elapsed:.1f} s, {rps:.0f} req/s, "
        f"p50 {percentile(values, 0.5) * 1000:.2f} ms, p99 {percentile(values, 0.99) * 1000:.2f} ms, "
        f"errors {result.errors}, X-Cache {result.cache}, X-DB-Route {result.routes}"
    )
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--posts-per-user", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20000, help="per stage, after warm-up")
    parser.add_argument("--warmup", type=int, default=10000, help="requests before measuring, per stage")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per phase")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    asyncio.run(seed(args.users, args.posts_per_user))
    recent = asyncio.run(recent_post_ids(args.users, 5))
    warmup = workload(args.users, recent, args.warmup, seed=1)
    ops = workload(args.users, recent, args.requests, seed=2)
    print(
        f"load: {args.connections} connections, {args.requests} requests per stage "
        f"(100 reads : 1 write), {os.cpu_count()} cores shared by all processes"
    )
    stage0 = run_stage(0, args, ops, warmup)
    stage3 = run_stage(3, args, ops, warmup)
    print(f"ratio stage3/stage0 req/s: {stage3 / stage0:.2f}")


if __name__ == "__main__":
    main()
