"""The checkov gate (`make scan`, tools/checkov_scan.py) fails on a failed check and on a
skip without a reason; skips sit on single resources, each with a reason."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib.checkov import skip_check
from tests.stage_cache import StageCache, all_resources
from tools.checkov_scan import verdict


def _check(check_id: str, comment: str | None = None) -> dict[str, Any]:
    check: dict[str, Any] = {
        "check_id": check_id,
        "check_name": "a check",
        "file_abs_path": "/out/stage-3/scaling-data.template.json",
        "file_path": "/stage-3/scaling-data.template.json",
        "resource": "AWS::SQS::Queue.Queue",
        "check_result": {"result": "SKIPPED" if comment is not None else "FAILED"},
    }
    if comment is not None:
        check["check_result"]["suppress_comment"] = comment
    return check


def test_the_gate_fails_on_a_failed_check_and_on_a_skip_without_reason() -> None:
    reasoned = "Encrypted with SSE-SQS, which this check does not recognize."
    reports = [
        {
            "results": {
                "failed_checks": [_check("CKV_AWS_27")],
                "skipped_checks": [_check("CKV_AWS_115", "No comment provided"), _check("CKV_AWS_116", reasoned)],
            }
        }
    ]
    problems, skips = verdict(reports)
    assert problems == [
        "FAILED CKV_AWS_27 (a check) on stage-3 scaling-data/AWS::SQS::Queue.Queue",
        "SKIPPED WITHOUT A REASON CKV_AWS_115 on stage-3 scaling-data/AWS::SQS::Queue.Queue",
    ]
    assert skips[("CKV_AWS_116", reasoned)] == {"stage-3 scaling-data/AWS::SQS::Queue.Queue"}
    assert verdict([{"results": {"skipped_checks": [_check("CKV_AWS_116", reasoned)]}}])[0] == []


def test_a_skip_lands_in_the_resource_metadata_and_needs_a_reason() -> None:
    stack = cdk.Stack(cdk.App(), "Skips")
    queue = cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue")
    skip_check(queue, "CKV_AWS_27", "Encrypted with SSE-SQS, which this check does not recognize.")
    skip_check(queue, "CKV_AWS_27", "Encrypted with SSE-SQS (SqsManagedSseEnabled), not with a KMS key.")
    assert queue.get_metadata("checkov") == {
        "skip": [{"id": "CKV_AWS_27", "comment": "Encrypted with SSE-SQS (SqsManagedSseEnabled), not with a KMS key."}]
    }
    with pytest.raises(ValueError, match="real reason"):
        skip_check(queue, "CKV_AWS_116", "n/a")


@pytest.mark.parametrize("stage_number", [0, 6])
def test_every_skip_in_the_templates_carries_a_reason(stages: StageCache, stage_number: int) -> None:
    skipped = 0
    for stack, logical_id, resource in all_resources(stages[stage_number]):
        for entry in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert entry["id"].startswith(("CKV_", "CKV2_")) and len(entry["comment"]) >= 20, (stack, logical_id)
            skipped += 1
    assert skipped
