"""SQS worker for the service's post events: keeps each author's post counters in DynamoDB.

A message is applied at most once. One DynamoDB transaction writes a marker keyed by the
message's `id` (only if absent) together with the counter change, so a redelivered or
duplicated message finds its marker and changes nothing. A message that cannot be
applied is reported as a batch item failure: SQS retries only that message and, after
the queue's receive limit, moves it to the dead-letter queue.
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
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# How each event type changes the author's post count.
POST_COUNT_CHANGE = {"post.created": 1, "post.updated": 0, "post.deleted": -1}
# Longer than the queue's 4-day retention, so a marker outlives every redelivery of its message.
MARKER_TTL_SECONDS = 14 * 24 * 3600

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


class InvalidEvent(ValueError):
    """The message is not a post event this worker understands; retrying will not help."""


def parse(body: str) -> tuple[str, str, int]:
    """Return (event id, type, author id) or raise InvalidEvent."""
    try:
        event = json.loads(body)
        event_id, event_type, user_id = event["id"], event["type"], event["post"]["user_id"]
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidEvent(f"not a post event: {error!r}") from None
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent("event id must be a non-empty string")
    if event_type not in POST_COUNT_CHANGE:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        raise InvalidEvent("post.user_id must be a positive integer")
    return event_id, event_type, user_id


def apply_once(event_id: str, event_type: str, user_id: int, now: int) -> bool:
    """Apply the event; False when it had been applied before."""
    marker = {
        "Put": {
            "TableName": TABLE,
            "Item": {
                "pk": {"S": f"EVENT#{event_id}"},
                "sk": {"S": "EVENT"},
                "type": {"S": event_type},
                "expires_at": {"N": str(now + MARKER_TTL_SECONDS)},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    counters = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "STATS"}},
            "UpdateExpression": "ADD posts :change SET last_event_at = :now",
            "ExpressionAttributeValues": {
                ":change": {"N": str(POST_COUNT_CHANGE[event_type])},
                ":now": {"N": str(now)},
            },
        }
    }
    try:
        dynamodb.transact_write_items(TransactItems=[marker, counters])
    except dynamodb.exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons", [])
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return False
        raise
    return True


def record_handler(record: SQSRecord) -> None:
    event_id, event_type, user_id = parse(record.body)
    applied = apply_once(event_id, event_type, user_id, int(time.time()))
    logger.info("post event", extra={"event_id": event_id, "type": event_type, "applied": applied})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
