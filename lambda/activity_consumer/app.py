"""Kinesis consumer for activity events: stores each event under its user in DynamoDB.

Records arrive in batches; each is a JSON object with `id`, `user_id` and `type`. The
item's key is derived from the event id and written only if absent, so a record seen
again after a retry or a bisected batch is not stored twice. A record that cannot be
stored is reported as a batch item failure, so Lambda resumes from it and, once the
event source's retries are spent, sends it to the on-failure destination.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

ACTIVITY_TTL_SECONDS = 90 * 24 * 3600
MAX_TYPE_LENGTH = 64

logger = Logger()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


def parse(data: bytes) -> dict[str, Any]:
    """Validate one activity event or raise ValueError."""
    event = json.loads(data)
    if not isinstance(event, dict):
        raise ValueError("an activity event is a JSON object")
    event_id, user_id, event_type = event.get("id"), event.get("user_id"), event.get("type")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("id must be a non-empty string")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        raise ValueError("user_id must be a positive integer")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= MAX_TYPE_LENGTH:
        raise ValueError("type must be a short string")
    return event


def store_once(event: dict[str, Any], now: int) -> bool:
    """Store the event; False when it was stored before."""
    item = {
        "pk": {"S": f"USER#{event['user_id']}"},
        "sk": {"S": f"ACTIVITY#{event['id']}"},
        "type": {"S": event["type"]},
        "payload": {"S": json.dumps(event, separators=(",", ":"), sort_keys=True)},
        "expires_at": {"N": str(now + ACTIVITY_TTL_SECONDS)},
    }
    try:
        dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def record_handler(record: KinesisStreamRecord) -> None:
    event = parse(record.kinesis.data_as_bytes())
    stored = store_once(event, int(time.time()))
    logger.info("activity event", extra={"event_id": event["id"], "stored": stored})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
