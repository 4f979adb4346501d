"""The benchmark's load generator: a minimal HTTP/1.1 keep-alive client on asyncio, so
that it costs the shared cores as little as possible. It only ever connects to 127.0.0.1,
and every run is bounded in requests and in time."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

HOST = "127.0.0.1"
PASSWORD = "bench-password"

# (method, path); the method "W" stands for a new post by one of the signed-in writers.
Op = tuple[str, str]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cache: dict[str, int] = field(default_factory=dict)
    routes: dict[str, int] = field(default_factory=dict)
    response_bytes: int = 0
    elapsed: float = 0.0

    def percentile_ms(self, fraction: float) -> float:
        values = sorted(self.latencies)
        return values[min(len(values) - 1, int(len(values) * fraction))] * 1000 if values else 0.0


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


async def sign_in(port: int, user_ids: Sequence[int]) -> list[str]:
    """Session tokens of the given seeded users."""
    tokens = []
    reader, writer = await asyncio.open_connection(HOST, port)
    for uid in user_ids:
        body = orjson.dumps({"username": f"user{uid}", "password": PASSWORD})
        status, headers = await request(reader, writer, "POST", "/sessions", body)
        assert status == 200, f"sign-in failed with {status}"
        tokens.append(headers["set-cookie"].split(";", 1)[0].split("=", 1)[1])
    writer.close()
    return tokens


async def drive(port: int, ops: Sequence[Op], connections: int, seconds: float, tokens: Sequence[str]) -> Result:
    """Sends `ops` over `connections` keep-alive connections until they run out or
    `seconds` have passed."""
    result = Result()
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
                result.latencies.append(time.perf_counter() - started)
                result.response_bytes += int(headers.get("content-length", "0"))
                if status >= 400:
                    result.errors += 1
                for name, counts in (("x-cache", result.cache), ("x-db-route", result.routes)):
                    value = headers.get(name, "?")
                    counts[value] = counts.get(value, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result
