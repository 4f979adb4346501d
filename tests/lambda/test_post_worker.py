from __future__ import annotations

import json
from typing import Any

import pytest


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def post_event(event_id: str, event_type: str, user_id: int = 7) -> str:
    return json.dumps(
        {"id": event_id, "type": event_type, "version": 1, "post": {"id": f"{user_id}-X", "user_id": user_id}}
    )


def post_count(table: Any, user_id: int = 7) -> int:
    item = table.get_item(TableName="app-table", Key={"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "STATS"}})
    return int(item["Item"]["posts"]["N"])


def test_poisoned_message_fails_alone(load_handler: Any, table: Any, context: Any) -> None:
    worker = load_handler("post_worker")
    event = sqs_event(post_event("e1", "post.created"), "{not json", post_event("e2", "post.created"))
    result = worker.handler(event, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert post_count(table) == 2


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"id": "e9", "type": "post.exploded", "post": {"user_id": 7}}),
        json.dumps({"id": "e9", "type": "post.created", "post": {"user_id": "7"}}),
        json.dumps(["not", "an", "object"]),
    ],
)
def test_invalid_events_are_reported_not_applied(load_handler: Any, table: Any, context: Any, body: str) -> None:
    worker = load_handler("post_worker")
    result = worker.handler(sqs_event(post_event("e1", "post.created"), body), context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert post_count(table) == 1


def test_repeated_message_is_applied_once(load_handler: Any, table: Any, context: Any) -> None:
    worker = load_handler("post_worker")
    created, deleted = post_event("e1", "post.created"), post_event("e2", "post.deleted")
    assert worker.handler(sqs_event(created, created), context) == {"batchItemFailures": []}
    # Redelivered in a later batch (visibility timeout ran out, or SNS and SQS both delivered it).
    assert worker.handler(sqs_event(created, post_event("e3", "post.created")), context) == {"batchItemFailures": []}
    assert post_count(table) == 2
    worker.handler(sqs_event(deleted, deleted), context)
    assert post_count(table) == 1
