"""Property-based tests over every route, parameter and body field, against the stage-3
service on the real MariaDB and Redis.

Every response is also checked against the service's own OpenAPI document by the
clients' response hook (tests/service/conftest.py): a documented status, the
documented error codes, the documented body and headers. On top of that, each test
states which inputs the documented formats accept, and that what was stored is what
a later read returns. The formats' strategies draw from the documented patterns with
Hypothesis's own rule for Python's ``$`` (about half of those values end in a newline
that ``re.match`` lets through), and from any text."""

from __future__ import annotations

import json
import re
import socket
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import validation
from service.body_limit import MAX_BODY_BYTES
from tests.service.conftest import Service

QUICK = settings(max_examples=25, deadline=None, derandomize=True, database=None)
SCRYPT = settings(QUICK, max_examples=10)  # each accepted sign-up or sign-in hashes a password (~60 ms)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
# Numbers in other scripts: str.isdigit() says yes to some that int() refuses ("²").
DIGITS_ELSEWHERE = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3)


def documented(pattern: re.Pattern[str], value: str) -> bool:
    """The oracle: the whole value is in the documented format (independently of how the service checks it)."""
    return re.fullmatch(pattern.pattern, value) is not None


def has_text(value: str) -> bool:
    return value.strip() != ""


def canonical_id(raw: str) -> bool:
    return documented(validation.USER_ID, raw) and int(raw) < 2**63


def around(pattern: re.Pattern[str], max_size: int = 40) -> st.SearchStrategy[str]:
    return st.one_of(st.from_regex(validation.schema_pattern(pattern)), st.text(max_size=max_size))


def segment(value: str) -> str:
    return quote(value, safe="")


def routed(raw: str) -> bool:
    """Whether a path segment reaches its route's handler: an empty one, one with a "/" (which
    the server decodes), or a dot segment (which the client resolves) makes another path."""
    return raw not in ("", ".", "..") and "/" not in raw


@pytest.fixture(scope="module")
def service(stage3_pair: tuple[Service, Service]) -> Service:
    return stage3_pair[0]


@pytest.fixture(scope="module")
def member(service: Service) -> httpx.Client:
    return service.signed_in_user("prop_member")


def _uid(client: httpx.Client) -> int:
    return int(client.user_id)  # type: ignore[attr-defined]


@SCRYPT
@given(username=around(validation.USERNAME))
def test_sign_up_takes_exactly_the_documented_usernames_and_stores_them_as_sent(
    service: Service, username: str
) -> None:
    response = service.client.post("/users", json={"username": username, "password": "long enough"})
    if not documented(validation.USERNAME, username):
        assert response.status_code == 400, (username, response.text)
        return
    assert response.status_code in (201, 409), response.text
    if response.status_code == 201:
        created = response.json()
        assert created["username"] == username
        assert service.client.get(f"/users/{created['id']}").json()["username"] == username


@settings(SCRYPT, max_examples=6)
@given(username=st.text(max_size=70), password=st.text(max_size=130))
def test_sign_in_with_anything_is_a_clean_refusal(service: Service, username: str, password: str) -> None:
    response = service.client.post("/sessions", json={"username": username, "password": password})
    valid = 1 <= len(username) <= 64 and 1 <= len(password) <= 128
    assert response.status_code == (401 if valid else 400), response.text


@QUICK
@given(display_name=st.text(max_size=70), bio=st.none() | st.text(max_size=290) | JSON_VALUES)
def test_a_profile_is_stored_as_sent_or_refused(
    service: Service, member: httpx.Client, display_name: str, bio: Any
) -> None:
    sent = {"display_name": display_name, **({} if bio is None else {"bio": bio})}
    response = member.put("/me/profile", json=sent)
    bio_ok = bio is None or (isinstance(bio, str) and len(bio) <= 280)
    if not (1 <= len(display_name) <= 64 and bio_ok):
        assert response.status_code == 400, response.text
        return
    assert response.status_code == 200, response.text
    expected = {"display_name": display_name, "bio": bio or ""}
    assert service.client.get(f"/users/{_uid(member)}").json()["profile"] == expected


def _media_key(draw_key: str, uid: int) -> str:
    """A drawn key made the member's own, so ownership is not what refuses it."""
    return re.sub(r"^media/[0-9]+/", f"media/{uid}/", draw_key)


@QUICK
@given(
    body=st.text(max_size=510) | st.sampled_from(["", " ", "\t\n", "\x1f", "\u3000", "x" * 500, "x" * 501]),
    edit=st.text(max_size=510),
)
def test_a_post_is_stored_as_sent_or_refused_and_an_edit_likewise(
    service: Service, member: httpx.Client, body: str, edit: str
) -> None:
    response = member.post("/posts", json={"body": body})
    if not (1 <= len(body) <= 500 and has_text(body)):
        assert response.status_code == 400, response.text
        return
    assert response.status_code == 201, response.text
    post = response.json()
    assert post["body"] == body
    assert service.client.get(f"/posts/{post['id']}").json() == post

    edited = member.patch(f"/posts/{post['id']}", json={"body": edit})
    if not (1 <= len(edit) <= 500 and has_text(edit)):
        assert edited.status_code == 400, edited.text
        assert service.client.get(f"/posts/{post['id']}").json()["body"] == body
        return
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == edit
    assert service.client.get(f"/posts/{post['id']}").json() == edited.json()


@QUICK
@given(media=st.none() | around(validation.MEDIA_KEY) | JSON_VALUES)
def test_a_media_key_is_one_of_the_documented_keys_and_stored_as_sent(
    service: Service, member: httpx.Client, media: Any
) -> None:
    media_key = _media_key(media, _uid(member)) if isinstance(media, str) else media
    response = member.post("/posts", json={"body": "with media", "media_key": media_key})
    if not (media_key is None or (isinstance(media_key, str) and documented(validation.MEDIA_KEY, media_key))):
        assert response.status_code == 400, (media_key, response.text)
        return
    assert response.status_code == 201, response.text
    assert response.json()["media_key"] == media_key
    assert service.client.get(f"/posts/{response.json()['id']}").json()["media_key"] == media_key


@settings(QUICK, max_examples=20)
@given(raw=around(validation.USER_ID))
def test_a_user_id_in_a_path_is_a_canonical_positive_integer_or_refused(
    service: Service, member: httpx.Client, raw: str
) -> None:
    responses = [
        service.client.get(f"/users/{segment(raw)}"),
        service.client.get(f"/users/{segment(raw)}/posts"),
        service.client.get(f"/users/{segment(raw)}/feed"),
        member.put(f"/me/following/{segment(raw)}"),
        member.delete(f"/me/following/{segment(raw)}"),
    ]
    for response in responses:
        if canonical_id(raw):
            assert response.status_code in (200, 204, 400, 404), response.text
            if response.status_code == 400:  # the only one: following yourself
                assert int(raw) == _uid(member), response.text
        else:
            assert response.status_code == (400 if routed(raw) else 404), (raw, response.request.url, response.text)


@QUICK
@given(raw=around(validation.POST_ID, max_size=60))
def test_a_post_id_in_a_path_is_canonical_or_refused(service: Service, member: httpx.Client, raw: str) -> None:
    if raw.startswith(f"{_uid(member)}-"):
        raw = "1" + raw  # someone else's: the member must not delete or edit its own real posts by chance
    responses = [
        service.client.get(f"/posts/{segment(raw)}"),
        member.patch(f"/posts/{segment(raw)}", json={"body": "x"}),
        member.delete(f"/posts/{segment(raw)}"),
    ]
    canonical = documented(validation.POST_ID, raw) and canonical_id(raw.split("-")[0])
    for response in responses:
        expected = (403, 404) if canonical else ((400,) if routed(raw) else (404, 405))
        assert response.status_code in expected, (raw, response.text)


@QUICK
@given(
    limit=st.none() | st.from_regex(r"^[0-9]{1,3}$") | DIGITS_ELSEWHERE | st.text(max_size=5),
    cursor=st.none() | around(validation.ULID),
    extra=st.none() | st.sampled_from(["page", "offset", "LIMIT", "limit "]),
    which=st.sampled_from(["posts", "feed"]),
)
def test_page_parameters_are_the_documented_ones(
    service: Service, member: httpx.Client, limit: str | None, cursor: str | None, extra: str | None, which: str
) -> None:
    params = {k: v for k, v in {"limit": limit, "cursor": cursor, extra or "": "1"}.items() if k and v is not None}
    response = service.client.get(f"/users/{_uid(member)}/{which}", params=params)
    limit_ok = limit is None or (documented(validation.DECIMAL, limit) and 1 <= int(limit) <= 100)
    cursor_ok = cursor is None or documented(validation.ULID, cursor)
    if not (limit_ok and cursor_ok and extra is None):
        assert response.status_code == 400, (params, response.text)
        return
    assert response.status_code == 200, response.text
    assert len(response.json()["posts"]) <= int(limit or 20)


BODY_ROUTES = [
    ("POST", "/users"),
    ("POST", "/sessions"),
    ("PUT", "/me/profile"),
    ("POST", "/posts"),
    ("PATCH", "/posts/{own_post}"),
    ("POST", "/media/upload-url"),
]


@pytest.fixture(scope="module")
def own_post(member: httpx.Client) -> str:
    return str(member.post("/posts", json={"body": "target of random edits"}).json()["id"])


@QUICK
@given(
    route=st.sampled_from(BODY_ROUTES),
    payload=JSON_VALUES.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=40),
    content_type=st.sampled_from(["application/json", "Application/JSON; charset=utf-8", "text/plain", ""]),
)
def test_any_body_on_any_body_route_is_refused_cleanly(
    member: httpx.Client, own_post: str, route: tuple[str, str], payload: bytes, content_type: str
) -> None:
    method, path = route
    headers = {"content-type": content_type} if content_type else {}
    response = member.request(method, path.format(own_post=own_post), content=payload, headers=headers)
    if content_type.split(";")[0].lower() != "application/json":
        assert response.status_code == 415, response.text
    else:
        assert response.status_code in (200, 201, 400, 401, 404, 409), response.text


@QUICK
@given(cookie=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200))
def test_any_cookie_header_is_refused_cleanly(service: Service, cookie: str) -> None:
    for header in (cookie, f"sid={cookie}"):
        assert service.client.get("/me", headers={"cookie": header}).status_code == 401


def _padded(size: int) -> bytes:
    """A JSON sign-up of exactly ``size`` bytes that is refused for its short username, not its size."""
    head = b'{"username": "x"}'
    return head + b" " * (size - len(head))


@settings(QUICK, max_examples=12)
@given(
    size=st.sampled_from([MAX_BODY_BYTES, MAX_BODY_BYTES + 1]) | st.integers(MAX_BODY_BYTES - 100, 3 * MAX_BODY_BYTES),
    chunk=st.none() | st.integers(1024, 40 * 1024),
)
def test_the_body_limit_holds_however_the_body_is_sent(service: Service, size: int, chunk: int | None) -> None:
    body = _padded(size)
    content: bytes | Any = body
    if chunk is not None:  # a generator: httpx sends it chunked, without Content-Length
        content = (body[i : i + chunk] for i in range(0, len(body), chunk))
    response = service.client.post("/users", content=content, headers={"content-type": "application/json"})
    assert response.status_code == (413 if size > MAX_BODY_BYTES else 400), response.text


def _chunked_request_without_end(port: int, chunks: list[int]) -> bytes:
    """Sends a chunked sign-up whose body never ends and returns what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for size in chunks:
            sock.sendall(b"%x\r\n%s\r\n" % (size, b" " * size))
        # A server that waits for the end of the body never answers: recv() times out.
        answer = b""
        while not _complete(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def _complete(answer: bytes) -> bool:
    head, found, payload = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *([0-9]+)", head)
    return bool(found and length and len(payload) >= int(length.group(1)))


@settings(QUICK, max_examples=4)
@given(chunk=st.integers(512, 40 * 1024))
def test_a_body_over_the_limit_is_refused_before_it_ends(service: Service, chunk: int) -> None:
    """The server answers 413 once the limit is passed, without waiting for (or holding) the
    rest: the body here never ends, so a server that reads it whole never answers."""
    chunks = [chunk] * (MAX_BODY_BYTES // chunk + 1)
    answer = _chunked_request_without_end(int(service.url.rsplit(":", 1)[1]), chunks)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert json.loads(payload)["error"]["code"] == "body_too_large"
