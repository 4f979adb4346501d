"""Post storage: MySQL (on the author's shard when sharded) or DynamoDB.

A public post id is ``<author id>-<ULID>``: the author routes it to its shard or
DynamoDB partition without a lookup table, and the ULID sorts by time."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import anyio.to_thread

from service.context import RequestContext
from service.db import WRITER, Pool
from service.placement import Locator
from service.validation import POST_ID, ULID, matches, user_id

Post = dict[str, Any]


def parse_post_id(raw: str) -> tuple[int, str] | None:
    match = POST_ID.fullmatch(raw)
    author = user_id(match.group(1)) if match else None
    if match is None or author is None:
        return None
    return author, match.group(2)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def now_utc() -> datetime:
    """To the millisecond, as every store keeps it, so copies of a row compare equal."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _post(
    user_id: int,
    ulid: str,
    body: str,
    media_key: str | None,
    created: str,
    updated: str,
) -> Post:
    return {
        "id": f"{user_id}-{ulid}",
        "user_id": user_id,
        "body": body,
        "media_key": media_key,
        "created_at": created,
        "updated_at": updated,
    }


class PostStore(Protocol):
    async def create(
        self,
        ctx: RequestContext,
        user_id: int,
        ulid: str,
        body: str,
        media_key: str | None,
    ) -> Post: ...
    async def get(self, ctx: RequestContext, user_id: int, ulid: str, route: str) -> Post | None: ...
    async def update(self, ctx: RequestContext, user_id: int, ulid: str, body: str) -> Post | None: ...
    async def delete(self, ctx: RequestContext, user_id: int, ulid: str) -> bool: ...
    async def page(
        self,
        ctx: RequestContext,
        user_id: int,
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]: ...
    async def feed(
        self,
        ctx: RequestContext,
        authors: list[int],
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]: ...
    async def put(self, post: Post) -> None:
        """Store a copy unless the stored one is newer (by ``updated_at``)."""

    async def remove(self, user_id: int, ulid: str) -> None: ...
    async def records(self, user_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Every post of these users, as the data migration compares them."""
        ...


def post_record(post: Post) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    ulid = post["id"].split("-", 1)[1]
    return ("post", post["user_id"], ulid), (post["body"], post["media_key"], post["created_at"], post["updated_at"])


def record_post(key: tuple[Any, ...], value: tuple[Any, ...]) -> Post:
    return _post(key[1], key[2], *value)


_COLUMNS = "id, body, media_key, created_at, updated_at"


def _newest(pages: list[list[Post]], limit: int) -> tuple[list[Post], str | None]:
    merged = sorted((p for page in pages for p in page), key=lambda p: p["id"].split("-", 1)[1], reverse=True)
    posts = merged[:limit]
    return posts, posts[-1]["id"].split("-", 1)[1] if len(merged) > limit else None


class SqlPosts:
    def __init__(self, locate: Locator) -> None:
        self._locate = locate

    @staticmethod
    def _row(user_id: int, row: tuple[Any, ...]) -> Post:
        ulid, body, media_key, created, updated = row
        return _post(
            user_id,
            ulid,
            body,
            media_key,
            iso(created.replace(tzinfo=UTC)),
            iso(updated.replace(tzinfo=UTC)),
        )

    async def create(
        self,
        ctx: RequestContext,
        user_id: int,
        ulid: str,
        body: str,
        media_key: str | None,
    ) -> Post:
        moment = now_utc()
        pool = ctx.used(self._locate.for_user(user_id, WRITER))
        naive = moment.replace(tzinfo=None)
        await pool.execute(
            "INSERT INTO posts (user_id, id, body, media_key, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, ulid, body, media_key, naive, naive),
        )
        return _post(user_id, ulid, body, media_key, iso(moment), iso(moment))

    async def get(self, ctx: RequestContext, user_id: int, ulid: str, route: str) -> Post | None:
        pool = ctx.used(self._locate.for_user(user_id, route))
        row = await pool.fetchone(
            f"SELECT {_COLUMNS} FROM posts WHERE user_id = %s AND id = %s",
            (user_id, ulid),
        )
        return self._row(user_id, row) if row else None

    async def update(self, ctx: RequestContext, user_id: int, ulid: str, body: str) -> Post | None:
        pool = ctx.used(self._locate.for_user(user_id, WRITER))
        affected, _ = await pool.execute(
            "UPDATE posts SET body = %s, updated_at = %s WHERE user_id = %s AND id = %s",
            (body, now_utc().replace(tzinfo=None), user_id, ulid),
        )
        if not affected:
            return None
        return await self.get(ctx, user_id, ulid, WRITER)

    async def delete(self, ctx: RequestContext, user_id: int, ulid: str) -> bool:
        pool = ctx.used(self._locate.for_user(user_id, WRITER))
        affected, _ = await pool.execute("DELETE FROM posts WHERE user_id = %s AND id = %s", (user_id, ulid))
        return affected > 0

    async def page(
        self,
        ctx: RequestContext,
        user_id: int,
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]:
        pool = ctx.used(self._locate.for_user(user_id, route))
        if before is None:
            rows = await pool.fetchall(
                f"SELECT {_COLUMNS} FROM posts WHERE user_id = %s ORDER BY id DESC LIMIT %s",
                (user_id, limit + 1),
            )
        else:
            rows = await pool.fetchall(
                f"SELECT {_COLUMNS} FROM posts WHERE user_id = %s AND id < %s ORDER BY id DESC LIMIT %s",
                (user_id, before, limit + 1),
            )
        posts = [self._row(user_id, row) for row in rows[:limit]]
        next_cursor = rows[limit - 1][0] if len(rows) > limit else None
        return posts, next_cursor

    async def feed(
        self,
        ctx: RequestContext,
        authors: list[int],
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]:
        """Newest posts of many authors: one query per database holding them. The
        database reads every post of every author to sort them: the expensive read
        that the cache exists for."""

        async def query(pool: Pool, ids: list[int]) -> list[Post]:
            ctx.used(pool)
            marks = ", ".join(["%s"] * len(ids))
            since = "" if before is None else " AND id < %s"
            args: list[Any] = [*ids, *([] if before is None else [before]), limit + 1]
            rows = await pool.fetchall(
                f"SELECT user_id, {_COLUMNS} FROM posts WHERE user_id IN ({marks}){since} ORDER BY id DESC LIMIT %s",
                args,
            )
            return [self._row(int(row[0]), row[1:]) for row in rows]

        pages = await asyncio.gather(*(query(pool, ids) for pool, ids in self._locate.by_pool(authors, route)))
        return _newest(list(pages), limit)

    async def put(self, post: Post) -> None:
        user_id, ulid = post["user_id"], post["id"].split("-", 1)[1]
        created = parse_iso(post["created_at"]).replace(tzinfo=None)
        updated = parse_iso(post["updated_at"]).replace(tzinfo=None)
        # updated_at last: MySQL evaluates the assignments in order.
        await self._locate.for_user(user_id, WRITER).execute(
            "INSERT INTO posts (user_id, id, body, media_key, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE body = IF(VALUES(updated_at) >= updated_at, VALUES(body), body),"
            " media_key = IF(VALUES(updated_at) >= updated_at, VALUES(media_key), media_key),"
            " updated_at = GREATEST(updated_at, VALUES(updated_at))",
            (user_id, ulid, post["body"], post["media_key"], created, updated),
        )

    async def remove(self, user_id: int, ulid: str) -> None:
        await self._locate.for_user(user_id, WRITER).execute(
            "DELETE FROM posts WHERE user_id = %s AND id = %s", (user_id, ulid)
        )

    async def records(self, user_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for pool, ids in self._locate.by_pool(user_ids, WRITER):
            marks = ", ".join(["%s"] * len(ids))
            rows = await pool.fetchall(f"SELECT user_id, {_COLUMNS} FROM posts WHERE user_id IN ({marks})", ids)
            found.update(post_record(self._row(int(row[0]), row[1:])) for row in rows)
        return found


def create_posts_table(client: Any, table: str) -> None:
    """Create a table with the keys `DynamoPosts` expects, for local runs and tests (in AWS
    the data stack creates it with the same key schema)."""
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )


class DynamoPosts:
    """Table keys: ``pk`` = ``USER#<author id>`` (string), ``sk`` = ``POST#<ULID>``
    (string), so one Query in descending ``sk`` order is a user's timeline. A read
    routed to the writer is a strongly consistent read; to a reader, eventual."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    async def _call(self, name: str, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(partial(getattr(self._client, name), **kwargs))

    @staticmethod
    def _key(user_id: int, ulid: str) -> dict[str, Any]:
        return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"POST#{ulid}"}}

    @staticmethod
    def _item(item: dict[str, Any]) -> Post:
        media = item.get("media_key", {}).get("S")
        return _post(
            int(item["user_id"]["N"]),
            item["sk"]["S"][5:],
            item["body"]["S"],
            media,
            item["created_at"]["S"],
            item["updated_at"]["S"],
        )

    async def create(
        self,
        ctx: RequestContext,
        user_id: int,
        ulid: str,
        body: str,
        media_key: str | None,
    ) -> Post:
        ctx.note_route(WRITER)
        stamp = iso(now_utc())
        item = {
            **self._key(user_id, ulid),
            "user_id": {"N": str(user_id)},
            "body": {"S": body},
            "created_at": {"S": stamp},
            "updated_at": {"S": stamp},
        }
        if media_key:
            item["media_key"] = {"S": media_key}
        await self._call(
            "put_item",
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
        )
        return _post(user_id, ulid, body, media_key, stamp, stamp)

    async def get(self, ctx: RequestContext, user_id: int, ulid: str, route: str) -> Post | None:
        ctx.note_route(route)
        result = await self._call(
            "get_item",
            TableName=self._table,
            Key=self._key(user_id, ulid),
            ConsistentRead=route == WRITER,
        )
        return self._item(result["Item"]) if "Item" in result else None

    async def update(self, ctx: RequestContext, user_id: int, ulid: str, body: str) -> Post | None:
        ctx.note_route(WRITER)
        try:
            result = await self._call(
                "update_item",
                TableName=self._table,
                Key=self._key(user_id, ulid),
                UpdateExpression="SET body = :b, updated_at = :u",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={
                    ":b": {"S": body},
                    ":u": {"S": iso(now_utc())},
                },
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return self._item(result["Attributes"])

    async def delete(self, ctx: RequestContext, user_id: int, ulid: str) -> bool:
        ctx.note_route(WRITER)
        try:
            await self._call(
                "delete_item",
                TableName=self._table,
                Key=self._key(user_id, ulid),
                ConditionExpression="attribute_exists(pk)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def put(self, post: Post) -> None:
        item = {
            **self._key(post["user_id"], post["id"].split("-", 1)[1]),
            "user_id": {"N": str(post["user_id"])},
            "body": {"S": post["body"]},
            "created_at": {"S": post["created_at"]},
            "updated_at": {"S": post["updated_at"]},
        }
        if post["media_key"]:
            item["media_key"] = {"S": post["media_key"]}
        # The stored copy may be newer; ISO-8601 UTC strings of one width sort as their moments.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            await self._call(
                "put_item",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR updated_at <= :u",
                ExpressionAttributeValues={":u": {"S": post["updated_at"]}},
            )

    async def remove(self, user_id: int, ulid: str) -> None:
        await self._call("delete_item", TableName=self._table, Key=self._key(user_id, ulid))

    async def records(self, user_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for owner in user_ids:
            start: dict[str, Any] | None = None
            while True:
                extra = {"ExclusiveStartKey": start} if start else {}
                result = await self._call(
                    "query",
                    TableName=self._table,
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                    ExpressionAttributeValues={":pk": {"S": f"USER#{owner}"}, ":prefix": {"S": "POST#"}},
                    ConsistentRead=True,
                    **extra,
                )
                found.update(post_record(self._item(item)) for item in result.get("Items", []))
                start = result.get("LastEvaluatedKey")
                if not start:
                    break
        return found

    async def page(
        self,
        ctx: RequestContext,
        user_id: int,
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]:
        ctx.note_route(route)
        values: dict[str, Any] = {":pk": {"S": f"USER#{user_id}"}}
        if before is None:
            condition = "pk = :pk AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": "POST#"}
        else:
            condition = "pk = :pk AND sk BETWEEN :low AND :before"
            values[":low"] = {"S": "POST#"}
            values[":before"] = {"S": f"POST#{before}"}
        result = await self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            # BETWEEN includes the cursor item itself; fetch one more to drop it.
            Limit=limit + (1 if before is None else 2),
            ConsistentRead=route == WRITER,
        )
        items = [self._item(item) for item in result.get("Items", [])]
        if before is not None:
            items = [p for p in items if not p["id"].endswith(before)][: limit + 1]
        posts = items[:limit]
        next_cursor = posts[-1]["id"].split("-", 1)[1] if len(items) > limit else None
        return posts, next_cursor

    async def feed(
        self,
        ctx: RequestContext,
        authors: list[int],
        before: str | None,
        limit: int,
        route: str,
    ) -> tuple[list[Post], str | None]:
        """One Query per author, merged; the cache keeps this fan-out rare."""
        pages = await asyncio.gather(*(self.page(ctx, author, before, limit, route) for author in authors))
        posts, _ = _newest([page for page, _ in pages], limit)
        more = any(cursor is not None for _, cursor in pages) or sum(len(p) for p, _ in pages) > limit
        return posts, posts[-1]["id"].split("-", 1)[1] if more and posts else None


def valid_cursor(raw: str | None) -> bool:
    return raw is None or matches(ULID, raw)
