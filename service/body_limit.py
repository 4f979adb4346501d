"""The request-body limit, enforced on the bytes as they arrive.

A check of the Content-Length header alone lets a chunked body (no Content-Length)
through, and a check after ``request.body()`` runs only once the whole body is in
memory: a 400 MB chunked sign-up grew the process by about 460 MB before its 413.
This middleware counts the body as the application receives it and raises the 413
as soon as the count (or the declared length) passes the limit, so a request holds
at most the limit plus one chunk of the server's read buffer. The server discards
the rest of a refused body."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError
from service.validation import DECIMAL, matches

MAX_BODY_BYTES = 16 * 1024


def body_too_large(limit: int = MAX_BODY_BYTES) -> ApiError:
    return ApiError(413, "body_too_large", f"the body must be at most {limit} bytes")


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1")
            # A malformed header is the HTTP server's to refuse; the count below still applies.
            return int(text) if matches(DECIMAL, text) else None
    return None


class BodyLimit:
    """Raises ``body_too_large()`` from ``receive`` once the body passes ``max_bytes``;
    the application's ApiError handler turns it into the JSON 413. Routes that never
    read their body never see it."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise body_too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise body_too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
