"""The session cookie is Secure whenever the viewer used HTTPS: always behind CloudFront
(the wiring says so), and wherever CloudFront or a proxy reports https."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service.conftest import PASSWORD, Service, base_env


def _sign_in_cookie(service: Service, username: str, headers: dict[str, str]) -> str:
    with httpx.Client(base_url=service.url, timeout=10) as client:
        created = client.post("/users", json={"username": username, "password": PASSWORD})
        assert created.status_code in (201, 409), created.text
        response = client.post("/sessions", json={"username": username, "password": PASSWORD}, headers=headers)
        assert response.status_code == 200, response.text
        return response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("headers", "secure"),
    [
        ({}, False),
        ({"cloudfront-forwarded-proto": "https", "x-forwarded-proto": "http"}, True),
        ({"x-forwarded-proto": "https"}, True),
        ({"cloudfront-forwarded-proto": "http"}, False),
    ],
)
def test_the_cookie_follows_the_viewer_protocol(stage0: Service, headers: dict[str, str], secure: bool) -> None:
    cookie = _sign_in_cookie(stage0, "proto_viewer", headers)
    assert ("; secure" in cookie.lower()) is secure, cookie
    assert "httponly" in cookie.lower()


def test_behind_cloudfront_the_cookie_is_always_secure(start_service: Any, stage0: Service, run_id: str) -> None:
    env = base_env(
        run_id, "s1", DB_NAME=stage0.settings.writer.database, MIGRATE_ON_START="false", SESSION_COOKIE_SECURE="true"
    )
    behind_cloudfront = start_service(env)
    # The hop from CloudFront to the origin may be plain HTTP; the viewer's was not.
    cookie = _sign_in_cookie(behind_cloudfront, "edge_viewer", {"x-forwarded-proto": "http"})
    assert "; secure" in cookie.lower(), cookie
