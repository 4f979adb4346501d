"""Cache-Control on the real service (stage 0 on the local servers): only a successful public
read to a signed-out visitor may be stored, by CloudFront or a browser, and only briefly."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from service.cache_control import PUBLIC_READ_PATHS, CacheControl
from service.config import PUBLIC_READ_MAX_AGE_LIMIT_SECONDS, ConfigError, Settings
from service.sessions import COOKIE
from tests.service.conftest import Service

PUBLIC = "public, max-age=5"
PRIVATE = "private, no-store"


@pytest.fixture(scope="module")
def author_and_post(stage0: Service) -> tuple[httpx.Client, int, str]:
    author = stage0.signed_in_user("cache_control_author")
    created = author.post("/posts", json={"body": "cacheable for signed-out visitors"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == PRIVATE
    return author, author.user_id, created.json()["id"]  # type: ignore[attr-defined]


def test_public_reads_to_signed_out_visitors_may_be_cached_briefly(
    stage0: Service, author_and_post: tuple[httpx.Client, int, str]
) -> None:
    _, uid, post_id = author_and_post
    for url in (f"/users/{uid}", f"/users/{uid}/posts", f"/users/{uid}/posts?limit=1", f"/posts/{post_id}"):
        response = stage0.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == PUBLIC, url
    assert stage0.client.head(f"/posts/{post_id}").headers["cache-control"] == PUBLIC


def test_the_same_reads_with_a_session_cookie_are_never_stored(
    stage0: Service, author_and_post: tuple[httpx.Client, int, str]
) -> None:
    author, uid, post_id = author_and_post
    for url in (f"/users/{uid}", f"/users/{uid}/posts", f"/posts/{post_id}"):
        response = author.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == PRIVATE, url
    # Any session cookie, even one the service no longer knows, keeps the answer private.
    stale = stage0.client.get(f"/users/{uid}", headers={"cookie": f"theme=dark; {COOKIE}=expired"})
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == PRIVATE


def test_writes_errors_feeds_sessions_and_health_are_never_stored(
    stage0: Service, author_and_post: tuple[httpx.Client, int, str]
) -> None:
    author, uid, post_id = author_and_post
    responses = {
        "write": author.patch(f"/posts/{post_id}", json={"body": "edited"}),
        "not found": stage0.client.get("/users/999999999"),
        "bad id": stage0.client.get("/posts/not-a-post-id"),
        "bad query": stage0.client.get(f"/users/{uid}/posts?limit=0"),
        "no session": stage0.client.post("/posts", json={"body": "x"}),
        "feed": author.get(f"/users/{uid}/feed"),
        "signed-out feed": stage0.client.get(f"/users/{uid}/feed"),
        "me": author.get("/me"),
        "health": stage0.client.get("/health"),
        "unknown path": stage0.client.get("/nothing-here"),
    }
    assert responses["write"].status_code == 200
    assert responses["not found"].status_code == 404
    assert responses["bad id"].status_code == responses["bad query"].status_code == 400
    assert responses["signed-out feed"].status_code == 200
    assert {name: r.headers["cache-control"] for name, r in responses.items()} == dict.fromkeys(responses, PRIVATE)


async def _ok(request: object) -> Response:
    return Response("{}", media_type="application/json")


@pytest.mark.parametrize(("max_age", "expected"), [(0, PRIVATE), (30, "public, max-age=30")])
def test_max_age_comes_from_the_setting_and_zero_turns_public_caching_off(max_age: int, expected: str) -> None:
    app = CacheControl(Starlette(routes=[Route(path, _ok) for path in PUBLIC_READ_PATHS]), max_age=max_age)
    transport = httpx.ASGITransport(app=app)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/users/1")

    assert asyncio.run(get()).headers["cache-control"] == expected


@pytest.mark.parametrize("raw", ["abc", "-1", str(PUBLIC_READ_MAX_AGE_LIMIT_SECONDS + 1)])
def test_a_bad_public_read_max_age_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_READ_MAX_AGE_SECONDS must be an integer"):
        Settings.from_env({"DB_WRITER_HOST": "w", "DB_USER": "u", "PUBLIC_READ_MAX_AGE_SECONDS": raw}, lambda _: "")
    assert Settings.from_env({"DB_WRITER_HOST": "w", "DB_USER": "u"}, lambda _: "").public_read_max_age_seconds == 5
