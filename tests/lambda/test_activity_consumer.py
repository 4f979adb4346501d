from __future__ import annotations

import base64
import json
from typing import Any


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "7",
                    "sequenceNumber": f"4959{i:04d}",
                    "data": base64.b64encode(payload).decode(),
                    "approximateArrivalTimestamp": 1700000000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:4959{i:04d}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/activity",
            }
            for i, payload in enumerate(payloads)
        ]
    }


def activity(event_id: str, user_id: Any = 7) -> bytes:
    return json.dumps({"id": event_id, "user_id": user_id, "type": "post.viewed", "post_id": "7-X"}).encode()


def stored(table: Any, user_id: int = 7) -> list[str]:
    items = table.query(
        TableName="app-table",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}, ":prefix": {"S": "ACTIVITY#"}},
    )["Items"]
    return [item["sk"]["S"] for item in items]


def test_poisoned_record_fails_alone(load_handler: Any, table: Any, context: Any) -> None:
    consumer = load_handler("activity_consumer")
    result = consumer.handler(kinesis_event(activity("a1"), activity("a2", user_id=-1), activity("a3")), context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "49590001"}]}
    assert stored(table) == ["ACTIVITY#a1", "ACTIVITY#a3"]


def test_repeated_record_is_stored_once(load_handler: Any, table: Any, context: Any) -> None:
    consumer = load_handler("activity_consumer")
    assert consumer.handler(kinesis_event(activity("a1"), activity("a1")), context) == {"batchItemFailures": []}
    # A bisected or retried batch delivers the record again.
    assert consumer.handler(kinesis_event(activity("a1"), b"\xff garbage"), context) == {
        "batchItemFailures": [{"itemIdentifier": "49590001"}]
    }
    assert stored(table) == ["ACTIVITY#a1"]
