"""Malformed input on every endpoint: a 4xx with a JSON error body, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import MYSQL_PORT, Service, sql

JSON = {"content-type": "application/json"}
TOO_BIG = b'{"body": "' + b"x" * 20000 + b'"}'


def counts(service: Service) -> list[tuple[Any, ...]]:
    db = service.settings.writer.database  # type: ignore[union-attr]
    return sql(
        MYSQL_PORT,
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts),"
        " (SELECT COUNT(*) FROM profiles), (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM follows)",
        db=db,
    )


@pytest.fixture(scope="module")
def world(stage0: Service) -> dict[str, Any]:
    owner = stage0.signed_in_user("owner")
    intruder = stage0.signed_in_user("intruder")
    post_id = owner.post("/posts", json={"body": "mine"}).json()["id"]
    return {"owner": owner, "intruder": intruder, "post_id": post_id, "uid": owner.user_id}  # type: ignore[attr-defined]


# (who, method, path, raw body or None, headers, expected status)
CASES: list[tuple[str, str, str, bytes | None, dict[str, str], int]] = [
    ("anon", "POST", "/users", b"{", JSON, 400),
    ("anon", "POST", "/users", b"[]", JSON, 400),
    ("anon", "POST", "/users", b'{"username": "ok_name"}', JSON, 400),
    ("anon", "POST", "/users", b'{"username": "Bad Name!", "password": "long enough"}', JSON, 400),
    ("anon", "POST", "/users", b'{"username": "okname", "password": "short"}', JSON, 400),
    ("anon", "POST", "/users", b'{"username": 5, "password": "long enough"}', JSON, 400),
    ("anon", "POST", "/users", b'{"username": "owner", "password": "long enough"}', JSON, 409),
    ("anon", "POST", "/users", b'{"username": "x1y", "password": "long enough", "admin": true}', JSON, 400),
    (
        "anon",
        "POST",
        "/users",
        b'{"username": "plain", "password": "long enough"}',
        {"content-type": "text/plain"},
        415,
    ),
    ("anon", "POST", "/users", TOO_BIG, JSON, 413),
    ("anon", "POST", "/sessions", b"not json", JSON, 400),
    ("anon", "POST", "/sessions", b'{"username": "owner"}', JSON, 400),
    ("anon", "POST", "/sessions", b'{"username": "owner", "password": "wrong pass"}', JSON, 401),
    ("anon", "POST", "/sessions", b'{"username": "nobody", "password": "wrong pass"}', JSON, 401),
    ("anon", "GET", "/me", None, {}, 401),
    ("forged", "GET", "/me", None, {}, 401),
    ("anon", "PUT", "/me/profile", b'{"display_name": "x"}', JSON, 401),
    ("owner", "PUT", "/me/profile", b'{"display_name": ""}', JSON, 400),
    ("owner", "PUT", "/me/profile", b'{"display_name": "x", "bio": 7}', JSON, 400),
    ("owner", "PUT", "/me/profile", b'{"display_name": "' + b"x" * 65 + b'"}', JSON, 400),
    ("anon", "GET", "/users/abc", None, {}, 400),
    ("anon", "GET", "/users/0", None, {}, 400),
    ("anon", "GET", "/users/99999999999999999999", None, {}, 400),
    ("anon", "GET", "/users/987654", None, {}, 404),
    ("anon", "POST", "/posts", b'{"body": "hi"}', JSON, 401),
    ("owner", "POST", "/posts", b'{"body": ""}', JSON, 400),
    ("owner", "POST", "/posts", b'{"body": "   "}', JSON, 400),
    ("owner", "POST", "/posts", b'{"body": "' + b"x" * 501 + b'"}', JSON, 400),
    ("owner", "POST", "/posts", b'{"body": null}', JSON, 400),
    ("owner", "POST", "/posts", b'{"body": "hi", "media_key": "../../etc/passwd"}', JSON, 400),
    ("owner", "POST", "/posts", b'{"body": "hi", "media_key": "media/999/01ARZ3NDEKTSV4RRFFQ69G5FAV.png"}', JSON, 400),
    ("owner", "POST", "/posts", TOO_BIG, JSON, 413),
    ("anon", "GET", "/posts/nonsense", None, {}, 400),
    ("anon", "GET", "/posts/1-01ARZ3NDEKTSV4RRFFQ69G5FAV", None, {}, 404),
    ("intruder", "PATCH", "/posts/{post_id}", b'{"body": "hijacked"}', JSON, 403),
    ("owner", "PATCH", "/posts/{post_id}", b'{"body": 1}', JSON, 400),
    ("owner", "PATCH", "/posts/{post_id}", b'{"text": "x"}', JSON, 400),
    ("owner", "PATCH", "/posts/bad", b'{"body": "x"}', JSON, 400),
    ("anon", "DELETE", "/posts/{post_id}", None, {}, 401),
    ("intruder", "DELETE", "/posts/{post_id}", None, {}, 403),
    ("owner", "DELETE", "/posts/{uid}-01ARZ3NDEKTSV4RRFFQ69G5FAV", None, {}, 404),
    ("anon", "GET", "/users/{uid}/posts?limit=0", None, {}, 400),
    ("anon", "GET", "/users/{uid}/posts?limit=abc", None, {}, 400),
    ("anon", "GET", "/users/{uid}/posts?limit=101", None, {}, 400),
    ("anon", "GET", "/users/{uid}/posts?cursor=zzz", None, {}, 400),
    ("anon", "GET", "/users/{uid}/posts?page=2", None, {}, 400),
    ("anon", "GET", "/users/x/posts", None, {}, 400),
    ("anon", "PUT", "/me/following/{uid}", None, {}, 401),
    ("owner", "PUT", "/me/following/{uid}", None, {}, 400),
    ("intruder", "PUT", "/me/following/abc", None, {}, 400),
    ("intruder", "PUT", "/me/following/987654", None, {}, 404),
    ("intruder", "DELETE", "/me/following/{uid}", None, {}, 404),
    ("anon", "GET", "/users/{uid}/feed?limit=-1", None, {}, 400),
    ("anon", "GET", "/users/{uid}/feed?cursor=1", None, {}, 400),
    ("anon", "GET", "/users/987654/feed", None, {}, 404),
    ("anon", "POST", "/media/upload-url", b'{"content_type": "image/png"}', JSON, 401),
    ("owner", "POST", "/media/upload-url", b'{"content_type": "application/x-sh"}', JSON, 400),
    ("owner", "POST", "/media/upload-url", b'{"content_type": "image/png"}', JSON, 404),
    ("anon", "GET", "/no/such/path", None, {}, 404),
    ("anon", "PUT", "/posts", b"{}", JSON, 405),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "headers", "status"), CASES)
def test_malformed_input_is_refused_and_writes_nothing(
    stage0: Service,
    world: dict[str, Any],
    who: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    before = counts(stage0)
    client = {"anon": stage0.client, "owner": world["owner"], "intruder": world["intruder"]}.get(who, stage0.client)
    cookies = {"sid": "forged-token"} if who == "forged" else None
    request = client.build_request(method, path.format(**world), content=body, headers=headers, cookies=cookies)
    response = client.send(request)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert "Traceback" not in response.text
    assert response.headers["x-served-by"] == "s0"
    assert counts(stage0) == before


def test_an_unexpected_error_is_a_json_500_without_detail(stage0: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    services = stage0.server.config.app.state.services  # type: ignore[attr-defined]

    async def broken(*args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(services.directory, "summary", broken)
    response = stage0.client.get("/users/1")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "something went wrong; it has been logged"}
    }
    assert response.headers["x-served-by"] == "s0"
    assert "secret internal detail" not in response.text
