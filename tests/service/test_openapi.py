"""The OpenAPI document: valid 3.1, served as built, matching the app's routes both ways
for every role, and a checker that really refuses responses the document does not allow."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from service import openapi
from service.app import create_app
from service.config import DbEndpoint, Settings
from tests.service.conftest import Service
from tests.service.openapi_check import Nonconforming, OpenApiCheck

ROLES = {"all": (True, True), "users": (True, False), "posts": (False, True)}


def _operations(routes: list[Route]) -> set[tuple[str, str]]:
    return {(route.path, method.lower()) for route in routes for method in route.methods or () if method != "HEAD"}


@pytest.mark.parametrize("role", ROLES)
def test_the_document_is_valid_and_matches_the_routes_both_ways(role: str) -> None:
    serves_users, serves_posts = ROLES[role]
    document = openapi.document(serves_users=serves_users, serves_posts=serves_posts)
    validate(document)
    assert document["openapi"].startswith("3.1")
    settings = Settings(role=role, writer=DbEndpoint("127.0.0.1", 3306, "root", "unused"))
    routes = [r for r in create_app(settings).routes if isinstance(r, Route)]
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert _operations(routes) == documented
    assert all("HEAD" in (r.methods or ()) for r in routes if "GET" in (r.methods or ()))


def test_the_service_serves_the_document(stage0: Service) -> None:
    served = stage0.client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == openapi.document(serves_users=True, serves_posts=True)


def _response(method: str, path: str, status: int, body: bytes, **headers: str) -> httpx.Response:
    base = {"x-served-by": "t", "x-cache": "bypass", "x-db-route": "writer", "content-type": "application/json"}
    request = httpx.Request(method, f"http://127.0.0.1{path}")
    return httpx.Response(status, content=body, headers={**base, **headers}, request=request)


@pytest.mark.parametrize(
    "response",
    [
        _response("GET", "/posts/1-01ARZ3NDEKTSV4RRFFQ69G5FAV", 200, b'{"id": 5}'),
        _response("GET", "/posts/1-01ARZ3NDEKTSV4RRFFQ69G5FAV", 418, b"{}"),
        _response("GET", "/users/1", 400, b'{"error": {"code": "made_up", "message": "m"}}'),
        _response("GET", "/users/1", 404, b'{"error": {"code": "user_not_found", "message": "m"}}', **{"x-cache": "?"}),
        _response("GET", "/no/such/path", 200, b"{}"),
        _response("PUT", "/posts", 404, b'{"error": {"code": "not_found", "message": "m"}}'),
    ],
)
def test_the_checker_refuses_what_the_document_does_not_allow(response: httpx.Response) -> None:
    check = OpenApiCheck(openapi.document(serves_users=True, serves_posts=True))
    with pytest.raises(Nonconforming):
        check.check(response)


def test_the_checker_accepts_a_documented_error() -> None:
    check = OpenApiCheck(openapi.document(serves_users=True, serves_posts=True))
    check.check(_response("GET", "/users/1", 404, b'{"error": {"code": "user_not_found", "message": "m"}}'))
    check.check(_response("PUT", "/posts", 405, b'{"error": {"code": "method_not_allowed", "message": "m"}}'))
