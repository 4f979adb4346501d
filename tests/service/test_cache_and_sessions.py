"""Stage 3 on the local servers: cache-aside with invalidation, and sessions in
Redis shared by two instances."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from service.cache import Cache
from tests.service.conftest import REDIS_PORT, Service


def test_cache_aside_miss_then_hit_and_invalidation_on_update_and_delete(
    stage3_pair: tuple[Service, Service],
) -> None:
    first, second = stage3_pair
    author = first.signed_in_user("cache_author", via_api=True)
    uid = author.user_id  # type: ignore[attr-defined]
    created = author.post("/posts", json={"body": "first version"})
    assert created.status_code == 201
    post_id = created.json()["id"]

    reads = [first.client.get(f"/posts/{post_id}") for _ in range(2)]
    assert [r.headers["x-cache"] for r in reads] == ["miss", "hit"]
    assert reads[1].headers["x-db-route"] == "none"
    assert reads[0].json() == reads[1].json() == created.json()
    # The other instance is served from the same cache.
    assert second.client.get(f"/posts/{post_id}").headers["x-cache"] == "hit"

    timeline = [second.client.get(f"/users/{uid}/posts") for _ in range(2)]
    assert [r.headers["x-cache"] for r in timeline] == ["miss", "hit"]

    updated = author.patch(f"/posts/{post_id}", json={"body": "second version"})
    assert updated.status_code == 200
    after = second.client.get(f"/posts/{post_id}")
    assert after.headers["x-cache"] == "miss"
    assert after.json()["body"] == "second version"
    # The writer just wrote: its data is read from the writer, not a replica.
    assert after.headers["x-db-route"] == "writer"
    page = first.client.get(f"/users/{uid}/posts")
    assert page.headers["x-cache"] == "miss"
    assert [p["body"] for p in page.json()["posts"]] == ["second version"]
    assert first.client.get(f"/posts/{post_id}").headers["x-cache"] == "hit"

    assert author.delete(f"/posts/{post_id}").status_code == 204
    gone = first.client.get(f"/posts/{post_id}")
    assert gone.status_code == 404
    assert gone.headers["x-cache"] == "miss"
    assert first.client.get(f"/users/{uid}/posts").json()["posts"] == []


def test_timeline_is_paginated_newest_first(stage3_pair: tuple[Service, Service]) -> None:
    first, _ = stage3_pair
    author = first.signed_in_user("pager")
    uid = author.user_id  # type: ignore[attr-defined]
    ids = [author.post("/posts", json={"body": f"post {i}"}).json()["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = first.client.get(f"/users/{uid}/posts", params=params).json()
        seen += [p["id"] for p in page["posts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_a_fill_that_raced_a_write_is_not_stored(run_id: str) -> None:
    async def scenario() -> tuple[int, bytes | None]:
        client = aioredis.Redis(host="127.0.0.1", port=REDIS_PORT)
        cache = Cache(client, f"{run_id}:race:", ttl=60, ryw_seconds=5)
        try:
            value, seen = await cache.lookup("post:9-X", None, owner=9)
            assert value is None
            await cache.wrote(9, ["post:9-X"])  # a write lands while the reader queries
            stored = await cache.fill("post:9-X", None, b"old", owner=9, seen=seen)
            return stored, await client.get(f"{run_id}:race:post:9-X")
        finally:
            await client.aclose()

    stored, value = asyncio.run(scenario())
    assert stored == 0
    assert value is None


def test_two_instances_share_sessions_through_redis(stage3_pair: tuple[Service, Service]) -> None:
    first, second = stage3_pair
    signed_in = first.signed_in_user("roamer")
    cookies = signed_in.cookies
    with httpx.Client(base_url=second.url, cookies=cookies) as on_second:
        me = on_second.get("/me")
        assert me.status_code == 200
        assert me.json()["username"] == "roamer"
        assert me.headers["x-served-by"] == "b"
        assert signed_in.get("/me").headers["x-served-by"] == "a"
        assert on_second.delete("/sessions").status_code == 204
    assert signed_in.get("/me").status_code == 401


def test_feed_merges_followed_authors_and_is_invalidated_by_own_writes_and_follows(
    stage3_pair: tuple[Service, Service],
) -> None:
    first, second = stage3_pair
    reader = first.signed_in_user("feed_reader")
    author = first.signed_in_user("feed_author")
    rid, aid = reader.user_id, author.user_id  # type: ignore[attr-defined]
    by_author = [author.post("/posts", json={"body": f"a{i}"}).json()["id"] for i in range(3)]
    own = reader.post("/posts", json={"body": "mine"}).json()["id"]

    assert [p["id"] for p in first.client.get(f"/users/{rid}/feed").json()["posts"]] == [own]
    assert first.client.get(f"/users/{rid}/feed").headers["x-cache"] == "hit"

    assert reader.put(f"/me/following/{aid}").status_code == 204
    feed = second.client.get(f"/users/{rid}/feed", params={"limit": "2"})
    assert feed.headers["x-cache"] == "miss"
    assert [p["id"] for p in feed.json()["posts"]] == [own, by_author[2]]
    rest = second.client.get(f"/users/{rid}/feed", params={"limit": "2", "cursor": feed.json()["next_cursor"]})
    assert [p["id"] for p in rest.json()["posts"]] == [by_author[1], by_author[0]]
    assert rest.json()["next_cursor"] is None

    newest = reader.post("/posts", json={"body": "newer"}).json()["id"]
    assert first.client.get(f"/users/{rid}/feed").json()["posts"][0]["id"] == newest

    assert reader.delete(f"/me/following/{aid}").status_code == 204
    assert [p["id"] for p in first.client.get(f"/users/{rid}/feed").json()["posts"]] == [newest, own]
    assert reader.delete(f"/me/following/{aid}").status_code == 404


# (write, the cached reads it must invalidate): each read is cached (a hit) before the write.
POST_PAGES = ["/posts/{post}", "/users/{uid}/posts", "/users/{uid}/feed"]
WRITES = [
    ("create a post", "POST", "/posts", {"body": "new"}, POST_PAGES[1:]),
    ("edit a post", "PATCH", "/posts/{post}", {"body": "edited"}, POST_PAGES),
    ("delete a post", "DELETE", "/posts/{post}", None, POST_PAGES),
    ("set the profile", "PUT", "/me/profile", {"display_name": "New Name"}, ["/users/{uid}"]),
    ("follow", "PUT", "/me/following/{other}", None, ["/users/{uid}/feed"]),
    ("unfollow", "DELETE", "/me/following/{other}", None, ["/users/{uid}/feed"]),
]


@pytest.mark.parametrize(("kind", "method", "path", "body", "reads"), WRITES)
def test_every_kind_of_write_invalidates_the_cached_pages_it_changes(
    stage3_pair: tuple[Service, Service], kind: str, method: str, path: str, body: Any, reads: list[str]
) -> None:
    first, second = stage3_pair
    slug = kind.replace(" ", "_")
    writer = first.signed_in_user(f"inv_{slug}")
    other = first.signed_in_user(f"inv_other_{slug}")
    uid, oid = writer.user_id, other.user_id  # type: ignore[attr-defined]
    post = writer.post("/posts", json={"body": "old"}).json()["id"]
    other.post("/posts", json={"body": "by the other"})
    if kind == "unfollow":
        assert writer.put(f"/me/following/{oid}").status_code == 204
    names = {"uid": uid, "post": post, "other": oid}
    pages = [read.format(**names) for read in reads]
    cached = {}
    for page in pages:
        before = [second.client.get(page) for _ in range(2)]
        assert [r.headers["x-cache"] for r in before] == ["miss", "hit"]
        cached[page] = before[1].content

    done = writer.request(method, path.format(**names), json=body)
    assert done.status_code < 300, done.text

    for page in pages:
        after = second.client.get(page)
        assert after.headers["x-cache"] == "miss", f"{kind} left {page} cached"
        assert after.content != cached[page]
