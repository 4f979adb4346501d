"""The AWS pieces of stage 5: media uploads to S3 and work enqueued to SQS.
boto3 is synchronous, so calls that touch the network run in worker threads."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio.to_thread
import boto3
import orjson
from botocore.config import Config

from service.ids import new_ulid

log = logging.getLogger("service.aws")

UPLOAD_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
}
UPLOAD_EXPIRES_SECONDS = 900
# The most S3 accepts in one upload of each kind; the signed POST policy enforces it.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 100 * 1024 * 1024


# As many connections as anyio's default worker threads, which make every call.
_POOL = 40


@functools.cache
def client(name: str, region: str | None) -> Any:
    # One client per service and region (boto3 clients are thread-safe; making one is slow).
    # AWS_ENDPOINT_URL (honoured by boto3 itself) points these at moto locally.
    # Presigned S3 URLs must be SigV4: newer regions accept nothing else.
    config = Config(retries={"mode": "standard"}, signature_version="s3v4", max_pool_connections=_POOL)
    return boto3.client(name, region_name=region, config=config)


class Media:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def upload_url(self, user_id: int, content_type: str) -> dict[str, Any]:
        """A presigned POST (a browser form upload) for one new object: S3 accepts it only
        for this key, with this Content-Type, and between 1 byte and the type's limit.
        Signing is local computation: no call to S3 is made here."""
        key = f"media/{user_id}/{new_ulid()}.{UPLOAD_TYPES[content_type]}"
        max_bytes = MAX_VIDEO_BYTES if content_type.startswith("video/") else MAX_IMAGE_BYTES
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=UPLOAD_EXPIRES_SECONDS,
        )
        return {
            "url": post["url"],
            "method": "POST",
            "fields": post["fields"],
            "key": key,
            "content_type": content_type,
            "max_bytes": max_bytes,
            "expires_in": UPLOAD_EXPIRES_SECONDS,
        }


class Events:
    """Messages for the queue worker; see service/README.md for their shape."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    async def publish(self, event_type: str, post: dict[str, Any]) -> None:
        message = {
            "id": new_ulid(),
            "type": event_type,
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "post": {k: post.get(k) for k in ("id", "user_id", "media_key", "created_at")},
        }
        try:
            await anyio.to_thread.run_sync(
                partial(
                    self._sqs.send_message,
                    QueueUrl=self._queue_url,
                    MessageBody=orjson.dumps(message).decode(),
                )
            )
        except Exception:
            # The post is already stored; losing the follow-up work is logged, not fatal.
            log.exception("could not enqueue %s for post %s", event_type, post.get("id"))
