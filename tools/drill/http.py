"""Just enough HTTP/1.1 on asyncio for the drill: one keep-alive connection that sends a
request and reads a response framed by Content-Length, which is all the service and the
balancer send. Only ever connects to 127.0.0.1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

HOST = "127.0.0.1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass
class Message:
    """A request or a response as bytes: the head (start line and headers) and the body."""

    head: bytes
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


async def read_message(reader: asyncio.StreamReader, timeout: float = 30.0) -> Message | None:
    """None when the peer closed the connection before a new message began."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("connection closed mid-message") from None
        return None
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            name, _, value = line.partition(b":")
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return Message(head, body, headers)


def encode_request(method: str, path: str, body: object = None, cookie: str | None = None) -> bytes:
    payload = b"" if body is None else orjson.dumps(body)
    lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}", f"content-length: {len(payload)}"]
    if payload:
        lines.append("content-type: application/json")
    if cookie:
        lines.append(f"cookie: sid={cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive connection; reconnects when the server has closed it."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object = None, cookie: str | None = None) -> Reply:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
        assert self._reader is not None
        try:
            self._writer.write(encode_request(method, path, body, cookie))
            await self._writer.drain()
            message = await read_message(self._reader)
        except BaseException:
            await self.close()
            raise
        if message is None:
            await self.close()
            raise ConnectionError("the server closed the connection")
        status = int(message.head.split(b" ", 2)[1])
        if message.headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, message.headers, message.body)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def session_cookie(reply: Reply) -> str | None:
    for part in reply.headers.get("set-cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "sid" and value:
            return value
    return None
