"""The data paths of a host whose placement differs from the recorded one (see
``service/placement.py``): reads come from the recorded placement until the migration
switches, writes go to it first and then to the host's own, so neither a copy nor a
host on the old wiring loses a write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.context import RequestContext
from service.placement import PlacementView
from service.posts import Post, PostStore
from service.users import UserRows


class MigratingUserRows:
    def __init__(self, source: UserRows, target: UserRows, view: PlacementView) -> None:
        self._source = source
        self._target = target
        self._view = view

    def _reads(self) -> UserRows:
        return self._target if self._view.reads_own else self._source

    async def profile(self, ctx: RequestContext, user_id: int, route: str) -> dict[str, Any] | None:
        return await self._reads().profile(ctx, user_id, route)

    async def followees(self, ctx: RequestContext, follower: int, route: str, cap: int) -> list[int]:
        return await self._reads().followees(ctx, follower, route, cap)

    async def put_profile(
        self, ctx: RequestContext, user_id: int, display_name: str, bio: str, updated_at: datetime
    ) -> None:
        if self._view.writes_source:
            await self._source.put_profile(ctx, user_id, display_name, bio, updated_at)
        await self._target.put_profile(ctx, user_id, display_name, bio, updated_at)

    async def follow(self, ctx: RequestContext, follower: int, followee: int, created_at: datetime) -> None:
        if self._view.writes_source:
            await self._source.follow(ctx, follower, followee, created_at)
        await self._target.follow(ctx, follower, followee, created_at)

    async def unfollow(self, ctx: RequestContext, follower: int, followee: int) -> bool:
        if not self._view.writes_source:
            return await self._target.unfollow(ctx, follower, followee)
        # The source holds every follow until the switch; the target may lack an uncopied one.
        removed = await self._source.unfollow(ctx, follower, followee)
        await self._target.unfollow(ctx, follower, followee)
        return removed


class MigratingPosts:
    def __init__(self, source: PostStore, target: PostStore, view: PlacementView) -> None:
        self._source = source
        self._target = target
        self._view = view

    def _reads(self) -> PostStore:
        return self._target if self._view.reads_own else self._source

    async def create(self, ctx: RequestContext, user_id: int, ulid: str, body: str, media_key: str | None) -> Post:
        if not self._view.writes_source:
            return await self._target.create(ctx, user_id, ulid, body, media_key)
        post = await self._source.create(ctx, user_id, ulid, body, media_key)
        await self._target.put(post)
        return post

    async def get(self, ctx: RequestContext, user_id: int, ulid: str, route: str) -> Post | None:
        return await self._reads().get(ctx, user_id, ulid, route)

    async def update(self, ctx: RequestContext, user_id: int, ulid: str, body: str) -> Post | None:
        if not self._view.writes_source:
            return await self._target.update(ctx, user_id, ulid, body)
        post = await self._source.update(ctx, user_id, ulid, body)
        if post is not None:
            await self._target.put(post)
        return post

    async def delete(self, ctx: RequestContext, user_id: int, ulid: str) -> bool:
        if not self._view.writes_source:
            return await self._target.delete(ctx, user_id, ulid)
        deleted = await self._source.delete(ctx, user_id, ulid)
        await self._target.remove(user_id, ulid)
        return deleted

    async def page(
        self, ctx: RequestContext, user_id: int, before: str | None, limit: int, route: str
    ) -> tuple[list[Post], str | None]:
        return await self._reads().page(ctx, user_id, before, limit, route)

    async def feed(
        self, ctx: RequestContext, authors: list[int], before: str | None, limit: int, route: str
    ) -> tuple[list[Post], str | None]:
        return await self._reads().feed(ctx, authors, before, limit, route)
