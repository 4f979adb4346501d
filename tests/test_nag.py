"""cdk-nag guards every stage, and the guard is shown to bite."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from constructs_lib.acknowledge import acknowledge
from constructs_lib.database import HardenedMysql
from scaling_stacks.assembly import SynthesizedStage
from tests.stage_cache import ALL_STAGES, StageCache


def acknowledgments(stage: SynthesizedStage) -> dict[str, str]:
    """Every acknowledged finding in the assembly, `construct path -> rule: reason`."""
    found: dict[str, str] = {}
    for stack in stage.deploy_order:
        metadata = json.loads((stage.outdir / f"{stack}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for rule, reason in entry["data"].items():
                        found[f"{path} {rule}"] = reason
    return found


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_stage_synthesizes_under_nag_with_reasoned_narrow_acknowledgments(stages: StageCache, stage: int) -> None:
    # Synthesis raises on any unacknowledged AwsSolutions finding, so reaching here means
    # none is left; what remains is to check what was acknowledged, and why.
    found = acknowledgments(stages[stage])
    nag = {where: reason for where, reason in found.items() if "AwsSolutions-" in where}
    assert nag, "every stage acknowledges something; none found means the metadata moved"
    for where, reason in nag.items():
        assert len(reason) >= 60, f"{where}: reason too thin: {reason!r}"
        rule = where.split(" ", 1)[1]
        if rule.split("::")[-1].startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert "[" in rule, f"{where}: IAM findings are acknowledged one policy or action at a time"


def _violations(app: cdk.App) -> set[str]:
    result = AwsSolutionsChecks(app).validate_scope(app)
    return {violation.rule_name for violation in result.violations}


def test_nag_catches_an_insecure_bucket_and_database() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Insecure", env=cdk.Environment(account="123456789012", region="us-east-1"))
    s3.Bucket(stack, "Open")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, restrict_default_security_group=False)
    rds.DatabaseInstance(
        stack,
        "Db",
        engine=rds.DatabaseInstanceEngine.mysql(version=rds.MysqlEngineVersion.VER_8_0_46),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        storage_encrypted=False,
    )
    found = _violations(app)
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "AwsSolutions-RDS2", "AwsSolutions-RDS10"} <= {
        name.split("[")[0] for name in found
    }


def test_hardened_database_has_no_findings_but_unencrypted_storage_is_caught() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Db", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    db = HardenedMysql(
        stack,
        "Db",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        instance_type="m7g.large",
        multi_az=True,
        secret_key=kms.Key(stack, "Key", enable_key_rotation=True),
    )
    rds_findings = {name for name in _violations(app) if name.startswith("AwsSolutions-RDS")}
    assert rds_findings == set()
    cfn_instance = db.instance.node.default_child
    assert isinstance(cfn_instance, rds.CfnDBInstance)
    cfn_instance.storage_encrypted = False
    assert "AwsSolutions-RDS2" in _violations(app)


def test_acknowledgment_without_a_real_reason_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match="real reason"):
        acknowledge(stack, "AwsSolutions-S1", "ok")


def test_the_real_app_refuses_to_synthesize_an_insecure_resource(tmp_path) -> None:
    from scaling_stacks.assembly import stage_app

    app, _ = stage_app(0, tmp_path)
    compute = next(child for child in app.node.children if isinstance(child, cdk.Stack) and "compute" in child.node.id)
    s3.Bucket(compute, "Careless")
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()
