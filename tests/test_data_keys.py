"""Customer-managed keys, from the synthesized templates: every secret, table and queue and
the WAF request logs are encrypted with a key of this app in their own region; every role
that reads a secret can decrypt it through Secrets Manager, and a role that reads no secret
can use a data key only for a table or queue it reads or writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scaling_stacks.assembly import SynthesizedStage
from scaling_stacks.edge_stack import CLOUDFRONT_REGION
from tests.stage_cache import ALL_STAGES, StageCache, all_resources
from tests.test_secret_access import Resolver, _actions, readable_secrets, statements

# Where each encrypted type names its key.
KEY_PROPERTY = {
    "AWS::SecretsManager::Secret": ("KmsKeyId",),
    "AWS::DynamoDB::Table": ("SSESpecification", "KMSMasterKeyId"),
    "AWS::SQS::Queue": ("KmsMasterKeyId",),
    "AWS::Logs::LogGroup": ("KmsKeyId",),
}
DECRYPT = {"kms:Decrypt", "kms:*", "*"}
DATA_USE = ("dynamodb:", "sqs:")


def _key_of(resolver: Resolver, stack: str, resource: dict[str, Any]) -> tuple[str, str] | None:
    node: Any = resource.get("Properties", {})
    for step in KEY_PROPERTY[resource["Type"]]:
        node = node.get(step) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None
    target = resolver.target(stack, node)
    if target is None or resolver.templates[target[0]]["Resources"][target[1]]["Type"] != "AWS::KMS::Key":
        return None
    return target


def must_be_encrypted(stage: SynthesizedStage) -> dict[str, dict[str, Any]]:
    """Every secret, table and queue, and the WAF's log group, keyed `stack/LogicalId`."""
    return {
        f"{stack}/{logical_id}": resource
        for stack, logical_id, resource in all_resources(stage)
        if resource["Type"] in KEY_PROPERTY
        and (
            resource["Type"] != "AWS::Logs::LogGroup"
            or str(resource["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs-")
        )
    }


def unencrypted(stage: SynthesizedStage) -> list[str]:
    """What `must_be_encrypted` names that has no customer-managed key of this app in its stack's region."""
    resolver = Resolver(stage)
    regions = {
        stack: CLOUDFRONT_REGION if stack.endswith("-edge-waf") else stage.config.region for stack in stage.templates
    }
    missing = []
    for name, resource in must_be_encrypted(stage).items():
        stack = name.split("/")[0]
        key = _key_of(resolver, stack, resource)
        if key is None or regions.get(key[0]) != regions.get(stack):
            missing.append(name)
    return missing


def key_decrypt_statements(resolver: Resolver, stack: str, role: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The Allow statements that let `role` decrypt with each key of the app."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for statement in statements(resolver.templates[stack], role):
        if not _actions(statement) & DECRYPT:
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            target = resolver.target(stack, resource) if isinstance(resource, dict) else None
            if target and resolver.templates[target[0]]["Resources"][target[1]]["Type"] == "AWS::KMS::Key":
                found.setdefault(target, []).append(statement)
    return found


def _through_secrets_manager(statement: dict[str, Any]) -> bool:
    via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
    return via is None or "secretsmanager." in json.dumps(via)


def key_access_problems(stage: SynthesizedStage) -> list[str]:
    """Roles that read a secret but cannot decrypt its key through Secrets Manager, and roles
    that read no secret yet may use a data key without reading or writing a table or queue."""
    resolver = Resolver(stage)
    problems = []
    for stack, role, resource in all_resources(stage):
        if resource["Type"] != "AWS::IAM::Role":
            continue
        decrypts = key_decrypt_statements(resolver, stack, role)
        secrets = readable_secrets(resolver, stack, role)
        for secret in secrets:
            secret_stack, secret_id = secret.split("/")
            key = _key_of(resolver, secret_stack, resolver.templates[secret_stack]["Resources"][secret_id])
            if key is None or not any(_through_secrets_manager(s) for s in decrypts.get(key, [])):
                problems.append(f"{stack}/{role} reads {secret} but cannot decrypt it")
        uses_data = any(
            action.startswith(DATA_USE) for s in statements(resolver.templates[stack], role) for action in _actions(s)
        )
        if decrypts and not secrets and not uses_data:
            problems.append(f"{stack}/{role} reads no secret, table or queue but can decrypt with {sorted(decrypts)}")
    return problems


@pytest.mark.parametrize("stage_number", ALL_STAGES)
def test_secrets_tables_queues_and_waf_logs_use_a_customer_managed_key(stages: StageCache, stage_number: int) -> None:
    stage = stages[stage_number]
    checked = must_be_encrypted(stage)
    assert sum("Secret" in name for name in checked) >= 2, "the master and app secrets at least"
    if stage.config.has_edge:
        assert any("WebAclLogs" in name for name in checked)
    assert unencrypted(stage) == []


@pytest.mark.parametrize("stage_number", ALL_STAGES)
def test_every_secret_reader_can_decrypt_and_no_other_role_can(stages: StageCache, stage_number: int) -> None:
    assert key_access_problems(stages[stage_number]) == []


@pytest.mark.parametrize("stage_number", ALL_STAGES)
def test_keys_rotate_are_retained_and_named(stages: StageCache, stage_number: int) -> None:
    for stack, logical_id, resource in all_resources(stages[stage_number]):
        if resource["Type"] != "AWS::KMS::Key":
            continue
        assert resource["Properties"]["EnableKeyRotation"] is True, logical_id
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", logical_id
        if logical_id.startswith(("DataKey", "LogsKey")):
            aliases = [
                r["Properties"]["TargetKeyId"]
                for _, _, r in all_resources(stages[stage_number])
                if r["Type"] == "AWS::KMS::Alias"
            ]
            assert {"Fn::GetAtt": [logical_id, "Arn"]} in aliases, f"{stack}/{logical_id} has no alias"


@pytest.mark.parametrize("stage_number", [0, 5, 6])
def test_later_stacks_reach_the_data_key_while_they_catch_up(stages: StageCache, stage_number: int) -> None:
    """`cdk deploy --all` switches a secret, table or queue to the data key before the stacks of
    its later readers deploy their grants: the key's stack comes first, and its policy lets every
    role carrying the app's tag use it through those services meanwhile."""
    stage = stages[stage_number]
    network = f"{stage.config.stack_prefix}-network"
    key = next(r for lid, r in stage.templates[network]["Resources"].items() if lid.startswith("DataKey"))
    bridge = next(
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AppRolesThroughDataServices"
    )
    tag_key, tag_value = next(
        (k.split("/", 1)[1], v)
        for k, v in bridge["Condition"]["StringEquals"].items()
        if k.startswith("aws:PrincipalTag/")
    )
    for stack, logical_id, resource in all_resources(stage):
        if stack != network:
            assert network in stage.deploy_order[: stage.deploy_order.index(stack)]
        if resource["Type"] == "AWS::IAM::Role" and key_decrypt_statements(Resolver(stage), stack, logical_id):
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            assert tags.get(tag_key) == tag_value, f"{stack}/{logical_id} is not covered while its stack catches up"


def _planted(stage: SynthesizedStage, stack: str, change: Any) -> SynthesizedStage:
    templates = {name: json.loads(json.dumps(template)) for name, template in stage.templates.items()}
    change(templates[stack]["Resources"])
    return SynthesizedStage(
        config=stage.config,
        outdir=stage.outdir,
        templates=templates,
        deploy_order=stage.deploy_order,
        dependencies=stage.dependencies,
    )


def test_the_checks_catch_a_plaintext_queue_a_reader_without_the_key_and_a_stray_grant(stages: StageCache) -> None:
    stage = stages[5]
    prefix = stage.config.stack_prefix

    def aws_managed_queue(resources: dict[str, Any]) -> None:
        queue = next(r for r in resources.values() if r["Type"] == "AWS::SQS::Queue")
        del queue["Properties"]["KmsMasterKeyId"]
        queue["Properties"]["SqsManagedSseEnabled"] = True

    assert len(unencrypted(_planted(stage, f"{prefix}-async", aws_managed_queue))) == 1

    def reader_without_key(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            if resource["Type"] == "AWS::IAM::Policy" and "AppTier" in json.dumps(resource["Properties"]["Roles"]):
                document = resource["Properties"]["PolicyDocument"]
                document["Statement"] = [s for s in document["Statement"] if "kms:Decrypt" not in _actions(s)]

    problems = key_access_problems(_planted(stage, f"{prefix}-compute", reader_without_key))
    assert problems and all("cannot decrypt" in p for p in problems)

    def stray_grant(resources: dict[str, Any]) -> None:
        key = next(s for s in resources.values() if s["Type"] == "AWS::SecretsManager::Secret")["Properties"]
        resources["StrayRole"] = {"Type": "AWS::IAM::Role", "Properties": {}}
        resources["StrayPolicy"] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "StrayRole"}],
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["KmsKeyId"]}]
                },
            },
        }

    problems = key_access_problems(_planted(stage, f"{prefix}-data", stray_grant))
    assert len(problems) == 1 and problems[0].startswith(f"{prefix}-data/StrayRole reads no secret")
