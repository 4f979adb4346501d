"""The ASGI application: routes, cache-aside reads, and the response headers that
show what each request did."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio.to_thread
import orjson
from asyncmy.errors import MySQLError
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import aws, context, openapi, telemetry, validation
from service.body_limit import BodyLimit
from service.cache import Cache, LocalMarkers, connect
from service.cache_control import CacheControl
from service.config import ConfigError, Settings
from service.context import RequestContext
from service.db import READER, WRITER, Database
from service.errors import ApiError, bad_request, json_object, text_field, user_id_param
from service.ids import new_ulid
from service.migrate import migrate_all
from service.migration import DataMigration
from service.migration_stores import MigratingPosts, MigratingUserRows
from service.passwords import DUMMY_HASH, hash_password, verify_password
from service.placement import MYSQL_POSTS, SETTLED, Locator, Placement, PlacementView
from service.posts import DynamoPosts, PostStore, SqlPosts, now_utc, parse_post_id, valid_cursor
from service.sessions import COOKIE, RedisSessions, Session, SessionStore, SqlSessions
from service.users import Directory, PeerUsers, UserRows
from service.validation import DEFAULT_PAGE, MAX_PAGE

log = logging.getLogger("service")

# The feed reads at most this many followed accounts, the most recently followed.
MAX_FEED_SOURCES = 200
JSON = "application/json"

Loader = Callable[[str], Awaitable[bytes | None]]


class Services:
    """Everything a request needs, opened at start-up according to the settings."""

    def __init__(self, settings: Settings) -> None:
        if settings.writer is None:
            raise ConfigError("DB_WRITER_HOST is required")
        self.settings = settings
        self.db = Database(settings)
        self.cache: Cache | None = None
        self.markers = LocalMarkers(settings.read_your_writes_seconds)
        self.sessions: SessionStore = SqlSessions(self.db, settings.session_ttl_seconds)
        self.directory = Directory(self.db)
        self.placement = PlacementView(self.db, settings)
        self.rows: UserRows | MigratingUserRows = UserRows(Locator(self.db, self.placement.own))
        self.peer_users: PeerUsers | None = None
        self.posts: PostStore | MigratingPosts = SqlPosts(Locator(self.db, self.placement.own))
        self.migration: DataMigration | None = None
        self._migrator: asyncio.Task[None] | None = None
        self.media: aws.Media | None = None
        self.events: aws.Events | None = None

    async def start(self) -> None:
        s = self.settings
        if s.migrate_on_start:
            await migrate_all(s)
        await self.db.open()
        if s.cache is not None:
            self.cache = Cache(
                connect(s.cache),
                s.cache.key_prefix,
                s.cache_ttl_seconds,
                s.read_your_writes_seconds,
            )
            await self.cache.client.ping()
            fallback = SqlSessions(self.db, s.session_ttl_seconds) if s.session_db_fallback else None
            self.sessions = RedisSessions(self.cache, s.session_ttl_seconds, fallback)
        await self._place_data()
        if s.media_bucket:
            self.media = aws.Media(aws.client("s3", s.region), s.media_bucket)
        if s.queue_url:
            self.events = aws.Events(aws.client("sqs", s.region), s.queue_url)
        if s.role == "posts" and s.users_service_url:
            self.peer_users = PeerUsers(s.users_service_url)

    def _stores(self, placement: Placement) -> tuple[UserRows, PostStore]:
        locate = Locator(self.db, placement)
        if placement.posts == MYSQL_POSTS:
            return UserRows(locate), SqlPosts(locate)
        table = placement.posts.split(":", 1)[1]
        return UserRows(locate), DynamoPosts(aws.client("dynamodb", self.settings.region), table)

    async def _place_data(self) -> None:
        """Serve from this host's placement, or, while the recorded one differs, through
        the migrating paths, and take part in the fleet's data migration."""
        view = self.placement
        await view.start()
        own_rows, own_posts = self._stores(view.own)
        self.rows, self.posts = own_rows, own_posts
        if view.mode == SETTLED:
            return
        self.migration = DataMigration(self.db, self.settings, view.own, view)
        if self.settings.migrate_data_on_start and await self.migration.source_is_empty():
            await self.migration.run()  # a new system: nothing to copy
            await view.refresh()
            if view.mode == SETTLED:
                return
        source_rows, source_posts = self._stores(view.source)
        self.rows = MigratingUserRows(source_rows, own_rows, view)
        if view.source.posts != view.own.posts or view.own.posts == MYSQL_POSTS:
            self.posts = MigratingPosts(source_posts, own_posts, view)
        if self.settings.migrate_data_on_start:
            self._migrator = asyncio.create_task(self._migrate())

    async def _migrate(self) -> None:
        """Every host on a new wiring tries; the lock lets one run at a time."""
        assert self.migration is not None
        poll = self.settings.placement_poll_seconds
        while self.placement.mode != SETTLED:
            try:
                outcome = await self.migration.run(fleet_wait_seconds=poll * 12)
                if outcome == "done":
                    await self.placement.refresh()
            except Exception:
                log.exception("data migration attempt failed; retrying")
            await asyncio.sleep(poll)

    async def stop(self) -> None:
        if self._migrator is not None:
            self._migrator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._migrator
        await self.placement.stop()
        if self.peer_users is not None:
            await self.peer_users.close()
        if self.cache is not None:
            await self.cache.close()
        await self.db.close()

    async def cached(
        self,
        ctx: RequestContext,
        owner: int,
        name: str,
        field: str | None,
        load: Loader,
        ttl: int | None = None,
    ) -> bytes | None:
        """Cache-aside read of data owned by ``owner``; ``load`` gets the DB route."""
        if self.cache is None:
            recent = self.markers.recent(owner)
            return await load(WRITER if recent or not self.db.has_readers else READER)
        if not self.placement.cache_safe:
            return await load(WRITER)
        value, marker = await self.cache.lookup(name, field, owner)
        if value is not None:
            ctx.cache = "hit"
            return value
        ctx.cache = "miss"
        route = WRITER if marker or not self.db.has_readers else READER
        body = await load(route)
        if body is not None:
            await self.cache.fill(name, field, body, owner, marker, ttl, from_replica=route == READER)
        return body

    async def wrote(self, owner: int, names: list[str]) -> None:
        if self.cache is None:
            self.markers.wrote(owner)
        else:
            await self.cache.wrote(owner, names)

    def data_placement(self) -> dict[str, Any]:
        """This host's data mode and, on the host running it, the migration's progress."""
        described = self.placement.describe()
        progress = self.migration.progress if self.migration is not None else None
        if progress is not None:
            described["migration"] = {
                "phase": progress.phase,
                "buckets_copied": progress.copied,
                "buckets_verified": progress.verified,
                "buckets_total": progress.total,
                "records_copied": progress.records_copied,
            }
        return described

    async def user_summary(self, ctx: RequestContext, user_id: int, route: str) -> dict[str, Any] | None:
        if self.peer_users is not None:
            return await self.peer_users.summary(user_id)
        return await self.directory.summary(ctx, user_id, route)


def ctx_of(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["ctx"]
    return ctx


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


class Api:
    def __init__(self, services: Services) -> None:
        self.s = services
        settings = services.settings
        self._openapi = orjson.dumps(
            openapi.document(serves_users=settings.serves_users, serves_posts=settings.serves_posts)
        )

    async def session(self, request: Request) -> Session:
        token = request.cookies.get(COOKIE)
        session = await self.s.sessions.get(token) if token else None
        if session is None:
            raise ApiError(401, "unauthenticated", "sign in first (POST /sessions)")
        return session

    # -- health -----------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return json_response(
            {
                "status": "ok",
                "stage": self.s.settings.stage,
                "capabilities": self.s.settings.capabilities(),
            }
        )

    async def health_deep(self, request: Request) -> Response:
        checks: dict[str, str] = {}

        async def probe(name: str, check: Callable[[], Awaitable[Any]]) -> None:
            try:
                with anyio.fail_after(2):
                    await check()
                checks[name] = "ok"
            except (OSError, TimeoutError, MySQLError, RedisError) as exc:
                checks[name] = f"error: {type(exc).__name__}"

        db = self.s.db
        await probe("db_writer", lambda: db.directory(WRITER).fetchone("SELECT 1"))
        for index, pool in enumerate(db.readers):
            await probe(f"db_reader_{index}", partial(pool.fetchone, "SELECT 1"))
        for shard_id, pool in db.shards.items():
            await probe(f"shard_{shard_id}", partial(pool.fetchone, "SELECT 1"))
        if self.s.cache is not None:
            await probe("cache", self.s.cache.client.ping)
        healthy = all(v == "ok" for v in checks.values())
        return json_response(
            {
                "status": "ok" if healthy else "degraded",
                "stage": self.s.settings.stage,
                "checks": checks,
                "data_placement": self.s.data_placement(),
            },
            200 if healthy else 503,
        )

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type=JSON)

    # -- users and sessions -----------------------------------------------------

    async def create_user(self, request: Request) -> Response:
        data = await json_object(request, {"username", "password"})
        username = text_field(data, "username", 3, 32, validation.USERNAME)
        password = text_field(data, "password", 8, 128)
        password_hash = await anyio.to_thread.run_sync(hash_password, password)
        user_id = await self.s.directory.create(ctx_of(request), username, password_hash)
        if user_id is None:
            raise ApiError(409, "username_taken", "that username is taken")
        # A sign-up is a write: the new user's reads go to the writer for a while.
        await self.s.wrote(user_id, [f"user:{user_id}"])
        return json_response({"id": user_id, "username": username}, 201)

    async def sign_in(self, request: Request) -> Response:
        data = await json_object(request, {"username", "password"})
        username = text_field(data, "username", 1, 64)
        password = text_field(data, "password", 1, 128)
        found = await self.s.directory.credentials(ctx_of(request), username)
        encoded = found[2] if found else DUMMY_HASH
        valid = await anyio.to_thread.run_sync(verify_password, password, encoded)
        if found is None or not valid:
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        session = Session(found[0], found[1])
        token = await self.s.sessions.create(session)
        response = json_response({"user": {"id": session.user_id, "username": session.username}})
        # CloudFront names the viewer's protocol in CloudFront-Forwarded-Proto (the edge forwards
        # it; constructs_lib/cdn.py), whatever the hop to the origin; the box's nginx, in
        # X-Forwarded-Proto. Behind CloudFront, where viewers only ever use HTTPS, the wiring
        # also sets session_cookie_secure, so a hop that dropped the header changes nothing.
        proto = request.headers.get("cloudfront-forwarded-proto") or request.headers.get("x-forwarded-proto")
        secure = self.s.settings.session_cookie_secure or (proto or request.url.scheme) == "https"
        response.set_cookie(
            COOKIE,
            token,
            max_age=self.s.settings.session_ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            await self.s.sessions.delete(token)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE)
        return response

    async def me(self, request: Request) -> Response:
        session = await self.session(request)
        return json_response({"id": session.user_id, "username": session.username})

    async def get_user(self, request: Request) -> Response:
        user_id = user_id_param(request.path_params["user_id"])
        ctx = ctx_of(request)

        async def load(route: str) -> bytes | None:
            user = await self.s.directory.summary(ctx, user_id, route)
            if user is None:
                return None
            user["profile"] = await self.s.rows.profile(ctx, user_id, route)
            return orjson.dumps(user)

        body = await self.s.cached(ctx, user_id, f"user:{user_id}", None, load)
        if body is None:
            raise ApiError(404, "user_not_found", "no such user")
        return Response(body, media_type=JSON)

    async def put_profile(self, request: Request) -> Response:
        session = await self.session(request)
        data = await json_object(request, {"display_name", "bio"})
        display_name = text_field(data, "display_name", 1, 64)
        bio = text_field(data, "bio", 0, 280) if "bio" in data else ""
        await self.s.rows.put_profile(ctx_of(request), session.user_id, display_name, bio, now_utc())
        await self.s.wrote(session.user_id, [f"user:{session.user_id}"])
        return json_response({"user_id": session.user_id, "display_name": display_name, "bio": bio})

    # -- posts ------------------------------------------------------------------

    def _post_ref(self, request: Request) -> tuple[int, str]:
        parsed = parse_post_id(request.path_params["post_id"])
        if parsed is None:
            raise bad_request("post id must look like <user id>-<ULID>", "invalid_post_id")
        return parsed

    async def create_post(self, request: Request) -> Response:
        session = await self.session(request)
        data = await json_object(request, {"body", "media_key"})
        body = text_field(data, "body", 1, 500)
        if not validation.has_text(body):
            raise bad_request("body must not be blank")
        media_key = None
        if data.get("media_key") is not None:
            media_key = text_field(data, "media_key", 1, 200, validation.MEDIA_KEY)
            if media_key.split("/")[1] != str(session.user_id):
                raise bad_request("media_key must be one of your own uploads")
        uid = session.user_id
        post = await self.s.posts.create(ctx_of(request), uid, new_ulid(), body, media_key)
        await self.s.wrote(uid, [f"tl:{uid}", f"feed:{uid}"])
        if self.s.events is not None:
            await self.s.events.publish("post.created", post)
        response = json_response(post, 201)
        response.headers["location"] = f"/posts/{post['id']}"
        return response

    async def get_post(self, request: Request) -> Response:
        uid, ulid = self._post_ref(request)
        ctx = ctx_of(request)

        async def load(route: str) -> bytes | None:
            post = await self.s.posts.get(ctx, uid, ulid, route)
            return orjson.dumps(post) if post else None

        body = await self.s.cached(ctx, uid, f"post:{uid}-{ulid}", None, load)
        if body is None:
            raise ApiError(404, "post_not_found", "no such post")
        return Response(body, media_type=JSON)

    async def _owned_post(self, request: Request) -> tuple[Session, int, str]:
        session = await self.session(request)
        uid, ulid = self._post_ref(request)
        if uid != session.user_id:
            raise ApiError(403, "forbidden", "you can change only your own posts")
        return session, uid, ulid

    async def update_post(self, request: Request) -> Response:
        _, uid, ulid = await self._owned_post(request)
        data = await json_object(request, {"body"})
        body = text_field(data, "body", 1, 500)
        if not validation.has_text(body):
            raise bad_request("body must not be blank")
        post = await self.s.posts.update(ctx_of(request), uid, ulid, body)
        if post is None:
            raise ApiError(404, "post_not_found", "no such post")
        await self.s.wrote(uid, [f"post:{uid}-{ulid}", f"tl:{uid}", f"feed:{uid}"])
        if self.s.events is not None:
            await self.s.events.publish("post.updated", post)
        return json_response(post)

    async def delete_post(self, request: Request) -> Response:
        _, uid, ulid = await self._owned_post(request)
        if not await self.s.posts.delete(ctx_of(request), uid, ulid):
            raise ApiError(404, "post_not_found", "no such post")
        await self.s.wrote(uid, [f"post:{uid}-{ulid}", f"tl:{uid}", f"feed:{uid}"])
        if self.s.events is not None:
            await self.s.events.publish("post.deleted", {"id": f"{uid}-{ulid}", "user_id": uid})
        return Response(status_code=204)

    @staticmethod
    def _page_params(request: Request) -> tuple[int, int, str | None]:
        uid = user_id_param(request.path_params["user_id"])
        unknown = set(request.query_params) - {"limit", "cursor"}
        if unknown:
            raise bad_request(f"unknown query parameters: {', '.join(sorted(unknown))}")
        raw_limit = request.query_params.get("limit", str(DEFAULT_PAGE))
        if not validation.matches(validation.DECIMAL, raw_limit) or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise bad_request(f"limit must be an integer from 1 to {MAX_PAGE}")
        cursor = request.query_params.get("cursor")
        if not valid_cursor(cursor):
            raise bad_request("cursor must be a next_cursor value from a previous page")
        return uid, int(raw_limit), cursor

    async def timeline(self, request: Request) -> Response:
        """A user's own posts, newest first."""
        uid, limit, cursor = self._page_params(request)
        ctx = ctx_of(request)

        async def load(route: str) -> bytes | None:
            user = await self.s.user_summary(ctx, uid, route)
            if user is None:
                return None
            posts, next_cursor = await self.s.posts.page(ctx, uid, cursor, limit, route)
            return orjson.dumps({"user": user, "posts": posts, "next_cursor": next_cursor})

        body = await self.s.cached(ctx, uid, f"tl:{uid}", f"{cursor or ''}:{limit}", load)
        if body is None:
            raise ApiError(404, "user_not_found", "no such user")
        return Response(body, media_type=JSON)

    async def feed(self, request: Request) -> Response:
        """The home timeline: the newest posts of the user and everyone they follow.
        Built on read (fan-out on read), so other authors' new posts appear once the
        cached page expires (FEED_CACHE_TTL_SECONDS); the user's own writes and
        follows invalidate it at once."""
        uid, limit, cursor = self._page_params(request)
        ctx = ctx_of(request)

        async def load(route: str) -> bytes | None:
            user = await self.s.user_summary(ctx, uid, route)
            if user is None:
                return None
            authors = [uid, *await self.s.rows.followees(ctx, uid, route, MAX_FEED_SOURCES)]
            posts, next_cursor = await self.s.posts.feed(ctx, authors, cursor, limit, route)
            return orjson.dumps({"user": user, "posts": posts, "next_cursor": next_cursor})

        body = await self.s.cached(
            ctx, uid, f"feed:{uid}", f"{cursor or ''}:{limit}", load, self.s.settings.feed_cache_ttl_seconds
        )
        if body is None:
            raise ApiError(404, "user_not_found", "no such user")
        return Response(body, media_type=JSON)

    async def follow(self, request: Request) -> Response:
        session = await self.session(request)
        followee = user_id_param(request.path_params["user_id"])
        if followee == session.user_id:
            raise bad_request("you cannot follow yourself")
        ctx = ctx_of(request)
        if await self.s.directory.summary(ctx, followee, WRITER) is None:
            raise ApiError(404, "user_not_found", "no such user")
        await self.s.rows.follow(ctx, session.user_id, followee, now_utc())
        await self.s.wrote(session.user_id, [f"feed:{session.user_id}"])
        return Response(status_code=204)

    async def unfollow(self, request: Request) -> Response:
        session = await self.session(request)
        followee = user_id_param(request.path_params["user_id"])
        if not await self.s.rows.unfollow(ctx_of(request), session.user_id, followee):
            raise ApiError(404, "not_following", "you do not follow that user")
        await self.s.wrote(session.user_id, [f"feed:{session.user_id}"])
        return Response(status_code=204)

    async def upload_url(self, request: Request) -> Response:
        session = await self.session(request)
        data = await json_object(request, {"content_type"})
        content_type = text_field(data, "content_type", 1, 100)
        if content_type not in aws.UPLOAD_TYPES:
            raise bad_request(f"content_type must be one of {', '.join(aws.UPLOAD_TYPES)}")
        if self.s.media is None:
            # Not a 5xx: nothing failed, the stage has no media bucket (uploads start at stage 5).
            raise ApiError(404, "media_disabled", "media uploads are not configured at this stage")
        return json_response(self.s.media.upload_url(session.user_id, content_type), 201)

    def routes(self) -> list[Route]:
        routes = [
            Route("/health", self.health),
            Route("/health/deep", self.health_deep),
            Route("/openapi.json", self.openapi),
        ]
        settings = self.s.settings
        if settings.serves_users:
            routes += [
                Route("/users", self.create_user, methods=["POST"]),
                Route("/sessions", self.sign_in, methods=["POST"]),
                Route("/sessions", self.sign_out, methods=["DELETE"]),
                Route("/me", self.me),
                Route("/me/profile", self.put_profile, methods=["PUT"]),
                Route("/users/{user_id}", self.get_user),
                Route("/me/following/{user_id}", self.follow, methods=["PUT"]),
                Route("/me/following/{user_id}", self.unfollow, methods=["DELETE"]),
            ]
        if settings.serves_posts:
            routes += [
                Route("/posts", self.create_post, methods=["POST"]),
                Route("/posts/{post_id}", self.get_post),
                Route("/posts/{post_id}", self.update_post, methods=["PATCH"]),
                Route("/posts/{post_id}", self.delete_post, methods=["DELETE"]),
                Route("/users/{user_id}/posts", self.timeline),
                Route("/users/{user_id}/feed", self.feed),
                Route("/media/upload-url", self.upload_url, methods=["POST"]),
            ]
        return routes


class ResponseHeaders:
    """Adds the X-* headers to every response and turns an unhandled error into a
    JSON 500 without detail; the traceback goes to the log only."""

    def __init__(self, app: ASGIApp, served_by: str) -> None:
        self.app = app
        self.served_by = served_by.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context.begin()
        scope["ctx"] = ctx
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-served-by", self.served_by),
                    (b"x-cache", ctx.cache.encode()),
                    (b"x-db-route", ctx.route.encode()),
                ]
                if ctx.shard is not None:
                    headers.append((b"x-shard", ctx.shard.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            return  # gone before its body arrived: there is no one to answer
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            error = ApiError(500, "internal_error", "something went wrong; it has been logged")
            await Response(error.body(), 500, media_type=JSON)(scope, receive, send_with_headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return Response(exc.body(), exc.status, media_type=JSON)


def _allowed_methods(request: Request) -> str:
    """Every method of every route on this path: Starlette's own Allow names only the first route's."""
    routes = [r for r in request.app.routes if isinstance(r, Route) and r.matches(request.scope)[0] != Match.NONE]
    return ", ".join(sorted({m for r in routes for m in r.methods or ()}))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    error = ApiError(exc.status_code, code, str(exc.detail))
    headers = {**(exc.headers or {}), **({"Allow": _allowed_methods(request)} if exc.status_code == 405 else {})}
    return Response(error.body(), exc.status_code, media_type=JSON, headers=headers)


def create_app(settings: Settings) -> Starlette:
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = Starlette(
        routes=Api(services).routes(),
        middleware=[
            *telemetry.middleware(),
            # Outside ResponseHeaders, so the 500 it makes of an unhandled error is marked no-store too.
            Middleware(CacheControl, max_age=settings.public_read_max_age_seconds),
            Middleware(ResponseHeaders, served_by=settings.instance_id),
            Middleware(BodyLimit),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    # A path with a trailing slash is unknown (a JSON 404), not a redirect without a body.
    app.router.redirect_slashes = False
    app.state.services = services
    return app


def create_app_from_env() -> Starlette:
    # Uvicorn calls this in each worker process; each sets up its own logging and exporter.
    telemetry.configure_logging()
    telemetry.enable()
    return create_app(Settings.from_env())
