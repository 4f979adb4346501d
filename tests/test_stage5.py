"""Stage 5: shards, DynamoDB, the media bucket and the async worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_lib.mysql_shards import grown_shard_map
from scaling_stacks.config import ConfigError, build_config
from scaling_stacks.data_stack import media_upload_cors
from service.shardmap import moves
from tests.stage_cache import StageCache, all_resources, props, resources


def writers(stage: Any) -> dict[str, dict[str, Any]]:
    return {
        key: r
        for key, r in resources(stage, "AWS::RDS::DBInstance").items()
        if "SourceDBInstanceIdentifier" not in props(r)
    }


def test_primary_and_two_multi_az_shards_are_writers(stages: StageCache) -> None:
    found = writers(stages[5])
    assert len(found) == 3
    shards = [r for key, r in found.items() if "/Shards" in key]
    assert len(shards) == 2 and all(props(r)["MultiAZ"] is True for r in shards)
    assert all(props(r)["StorageEncrypted"] is True for r in shards)
    assert len({json.dumps(props(r)["MasterUserPassword"]) for r in found.values()}) == 3, "one secret each"


def test_shard_map_is_published_with_fixed_buckets(stages: StageCache) -> None:
    (parameter,) = [
        r for r in resources(stages[5], "AWS::SSM::Parameter").values() if props(r).get("Name") == "/scaling/shard-map"
    ]
    text = "".join(part if isinstance(part, str) else "<token>" for part in props(parameter)["Value"]["Fn::Join"][1])
    shard_map = json.loads(text)
    assert shard_map["logical_buckets"] == 1024
    assert [s["id"] for s in shard_map["shards"]] == ["shard-0", "shard-1"]
    assert shard_map["assignments"] == [
        {"first": 0, "last": 511, "shard": "shard-0"},
        {"first": 512, "last": 1023, "shard": "shard-1"},
    ]


def test_growing_the_map_moves_buckets_only_to_new_shards() -> None:
    shards = [{"id": f"shard-{i}"} for i in range(4)]
    plan = moves(grown_shard_map(shards, 2, 1024), grown_shard_map(shards, 4, 1024))
    assert {step["to"] for step in plan} == {"shard-2", "shard-3"}
    assert sum(step["last"] - step["first"] + 1 for step in plan) == 512, "half the buckets, no more"
    assert grown_shard_map(shards, 2, 1024)["assignments"] == grown_shard_map(shards[:2], 2, 1024)["assignments"]


def test_table_keeps_its_data(stages: StageCache) -> None:
    (table,) = resources(stages[5], "AWS::DynamoDB::Table").values()
    p = props(table)
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["DeletionProtectionEnabled"] is True
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_media_bucket_uses_intelligent_tiering(stages: StageCache) -> None:
    tiered = [
        r for r in resources(stages[5], "AWS::S3::Bucket").values() if props(r).get("IntelligentTieringConfigurations")
    ]
    assert len(tiered) == 1
    bucket = props(tiered[0])
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "s3/media/"


def test_worker_drains_queue_with_dead_letters_and_partial_failures(stages: StageCache) -> None:
    template = stages[5].templates["scaling-async"]["Resources"]
    queues = {k: r for k, r in template.items() if r["Type"] == "AWS::SQS::Queue"}
    (work_id,) = [k for k, r in queues.items() if "RedrivePolicy" in props(r)]
    dead_letter = props(queues[work_id])["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dead_letter in queues and dead_letter != work_id
    (mapping,) = [r for r in template.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert props(mapping)["EventSourceArn"] == {"Fn::GetAtt": [work_id, "Arn"]}
    assert props(mapping)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    alarms = [props(r) for r in template.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert {a["MetricName"] for a in alarms} == {"ApproximateNumberOfMessagesVisible", "Errors"}


def test_lambda_assets_leave_caches_out(stages: StageCache) -> None:
    assets = [p for p in stages[5].outdir.glob("asset.*") if (p / "app.py").is_file()]
    assert assets and not [p for asset in assets for p in asset.rglob("__pycache__")]


def test_more_shards_only_add_instances(stages: StageCache) -> None:
    before = {(stack, logical_id): r["Type"] for stack, logical_id, r in all_resources(stages[5])}
    grown = stages.variant(5, {"shards": 4})
    after = {(stack, logical_id): r["Type"] for stack, logical_id, r in all_resources(grown)}
    assert before.items() <= after.items(), "every existing resource keeps its logical id and type"
    added = [key for key in after.keys() - before.keys() if after[key] == "AWS::RDS::DBInstance"]
    assert len(added) == 2
    assert len(writers(grown)) == 5


@pytest.mark.parametrize(
    ("context", "message"), [({"shards": 0}, "'shards'"), ({"active_shards": 3}, "'active_shards'")]
)
def test_bad_shard_counts_are_rejected(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config({"stage": 5, **context}.get, {})


CLOUDFRONT_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def test_the_media_bucket_lets_browsers_post_presigned_uploads(stages: StageCache) -> None:
    (media,) = [
        props(bucket)
        for key, bucket in resources(stages[5], "AWS::S3::Bucket").items()
        if key.startswith("scaling-data/MediaBucket")
    ]
    (rule,) = media["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"] and rule["AllowedOrigins"] == ["*"]
    domain = build_config(
        {
            "stage": "5",
            "domain_name": "www.example.com",
            "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
            "hosted_zone_name": "example.com",
            "cloudfront_certificate_arn": CLOUDFRONT_CERT,
        }.get,
        {},
    )
    assert media_upload_cors(domain).allowed_origins == ["https://www.example.com"]
