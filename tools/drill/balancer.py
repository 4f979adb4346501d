"""A small HTTP load balancer on 127.0.0.1, as the ALB (or, at stage 6, the path rules in
front of the users and posts services) does it: each request goes round-robin to a
registered backend that serves its path; a backend being drained gets no new requests
and leaves once its last one has been answered."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field

from tools.drill.http import HOST, Message, read_message

POSTS_PATH = re.compile(r"^/(posts(/|$)|users/[^/]+/(posts|feed)$|media/)")
ROLES = {"all": {"users", "posts"}, "users": {"users"}, "posts": {"posts"}}
DRAIN_SECONDS = 15.0


def role_of(path: str) -> str:
    """Which service a path belongs to (stage 6 splits them; the monolith serves both)."""
    return "posts" if POSTS_PATH.match(path.split("?", 1)[0]) else "users"


@dataclass(eq=False)
class Backend:
    name: str
    port: int
    role: str = "all"
    inflight: int = 0
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    def serves(self, role: str) -> bool:
        return role in ROLES[self.role]


def _reply(status: int, text: str) -> bytes:
    body = b'{"error": {"code": "bad_gateway", "message": "' + text.encode() + b'"}}'
    head = f"HTTP/1.1 {status} {text}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Balancer:
    def __init__(self) -> None:
        self.backends: list[Backend] = []
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.served: dict[str, int] = {}

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve_client, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for backend in self.backends:
            self._close_idle(backend)

    def add(self, backend: Backend) -> None:
        self.backends.append(backend)

    async def drain(self, backend: Backend) -> None:
        """Deregister, then wait (bounded) until its in-flight requests are answered."""
        self.backends.remove(backend)
        deadline = asyncio.get_running_loop().time() + DRAIN_SECONDS
        while backend.inflight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        self._close_idle(backend)

    @staticmethod
    def _close_idle(backend: Backend) -> None:
        for _, writer in backend.idle:
            writer.close()
        backend.idle.clear()

    def _pick(self, role: str) -> Backend | None:
        candidates = [b for b in self.backends if b.serves(role)]
        return candidates[next(self._turn) % len(candidates)] if candidates else None

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_message(reader, timeout=120)
                if request is None:
                    break
                writer.write(await self._forward(request))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _forward(self, request: Message) -> bytes:
        path = request.head.split(b" ", 2)[1].decode("latin-1")
        backend = self._pick(role_of(path))
        if backend is None:
            return _reply(503, "no healthy backend")
        backend.inflight += 1
        try:
            # A pooled connection the backend closed while idle fails before any reply
            # byte: then one retry on a fresh connection is safe.
            for attempt in range(2):
                reused = bool(backend.idle)
                try:
                    response = await self._exchange(backend, request)
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    if reused and attempt == 0:
                        continue
                    return _reply(502, "backend connection failed")
                self.served[backend.name] = self.served.get(backend.name, 0) + 1
                return response
            return _reply(502, "backend connection failed")
        finally:
            backend.inflight -= 1

    async def _exchange(self, backend: Backend, request: Message) -> bytes:
        if backend.idle:
            reader, writer = backend.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(HOST, backend.port)
        try:
            writer.write(request.head + request.body)
            await writer.drain()
            response = await read_message(reader)
        except BaseException:
            writer.close()
            raise
        if response is None:
            writer.close()
            raise ConnectionError("backend closed the connection")
        if response.headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            backend.idle.append((reader, writer))
        return response.head + response.body
