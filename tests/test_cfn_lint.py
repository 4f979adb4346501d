"""cfn-lint finds no errors in any stage's templates (warnings are reviewed, not fatal)."""

from __future__ import annotations

import json

from tests.background_lint import BackgroundLinter, _lint, cut_down
from tests.stage_cache import ALL_STAGES, StageCache


def test_no_cfn_lint_errors_in_any_stage(stages: StageCache, linter: BackgroundLinter) -> None:
    for stage in ALL_STAGES:
        stages[stage]
    errors = linter.errors()
    assert linter.linted >= len(ALL_STAGES)
    assert not errors, "\n".join(errors)


def test_the_linter_reports_a_broken_template() -> None:
    broken = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"StorageEncrypted": "maybe"}}}}
    assert _lint("broken", json.dumps(broken), "us-east-1")


def test_a_cut_down_template_keeps_what_its_resources_reference() -> None:
    template = {
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Key": {"Type": "AWS::KMS::Key"},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
            "Policy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Fn::Sub": "${Queue.Arn}"}},
            },
            "Unrelated": {"Type": "AWS::SQS::Queue"},
            "Waits": {"Type": "AWS::SQS::Queue", "DependsOn": ["Unrelated"]},
        },
        "Outputs": {"O": {"Value": {"Ref": "Unrelated"}}},
    }
    cut = cut_down(template, {"Policy"})
    assert set(cut["Resources"]) == {"Policy", "Topic", "Key", "Queue"}
    assert "Outputs" not in cut and cut["Parameters"] == template["Parameters"]
    assert set(cut_down(template, {"Waits"})["Resources"]) == {"Waits", "Unrelated"}
