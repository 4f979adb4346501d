"""The Cache-Control header of every response. A public read (a profile, a user's posts, a
post) answered 200 to a request without a session cookie is the same for every signed-out
visitor, so CloudFront and browsers may keep it for a few seconds; everything else (writes,
errors, sessions, the home feed, health checks, any request with a session cookie) is
private and never stored, so a signed-in user always reads their own writes."""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.sessions import COOKIE

PUBLIC_READ_PATHS = ("/users/{user_id}", "/users/{user_id}/posts", "/posts/{post_id}")
_PUBLIC_READS = tuple(compile_path(path)[0] for path in PUBLIC_READ_PATHS)
PRIVATE = b"private, no-store"


def _has_session_cookie(scope: Scope) -> bool:
    return any(
        name == b"cookie" and COOKIE in cookie_parser(value.decode("latin-1")) for name, value in scope["headers"]
    )


def is_public_read(scope: Scope) -> bool:
    """A signed-out GET or HEAD of a public read's path (the status is checked on the way out)."""
    return (
        scope["method"] in ("GET", "HEAD")
        and any(pattern.match(scope["path"]) for pattern in _PUBLIC_READS)
        and not _has_session_cookie(scope)
    )


class CacheControl:
    """Sets Cache-Control on every response: `public, max-age=<max_age>` on a successful public
    read to a signed-out visitor, `private, no-store` on all else; `max_age` 0 makes every
    response private."""

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.public = f"public, max-age={max_age}".encode() if max_age > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        public = self.public if self.public is not None and is_public_read(scope) else None

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = public if public is not None and message["status"] == 200 else PRIVATE
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message = {**message, "headers": [*headers, (b"cache-control", value)]}
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
