"""Who can read which secret, from the IAM policies in the synthesized templates: every
host role (the box, the app tier) and every task role reads exactly the secrets its
wiring names, at every stage; the database master secrets only the user provisioner."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from scaling_stacks.assembly import SynthesizedStage
from tests.stage_cache import ALL_STAGES, StageCache

READ_SECRET = {"secretsmanager:GetSecretValue", "secretsmanager:*", "*"}
READ_PARAMETER = {"ssm:GetParameter", "ssm:GetParameters", "ssm:*", "*"}
SECRET_TYPES = {"AWS::SecretsManager::Secret", "AWS::SecretsManager::SecretTargetAttachment"}


def _is_reference(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetStackOutput", "Fn::GetAtt")


def references(node: Any) -> Iterator[Any]:
    if _is_reference(node):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


class Resolver:
    """Follows Ref and weak cross-stack references (Fn::GetStackOutput) to the resource
    they name, as `stack/LogicalId`; a secret attachment stands for its secret."""

    def __init__(self, stage: SynthesizedStage) -> None:
        self.templates = stage.templates

    def target(self, stack: str, node: Any) -> tuple[str, str] | None:
        if "Fn::GetStackOutput" in node:
            output = node["Fn::GetStackOutput"]
            value = self.templates[output["StackName"]]["Outputs"][output["OutputName"]]["Value"]
            return self.target(output["StackName"], value) if _is_reference(value) else None
        logical_id = node["Ref"] if "Ref" in node else node["Fn::GetAtt"][0]
        if logical_id.startswith("AWS::") or logical_id not in self.templates[stack]["Resources"]:
            return None
        resource = self.templates[stack]["Resources"][logical_id]
        if resource["Type"] == "AWS::SecretsManager::SecretTargetAttachment":
            return self.target(stack, resource["Properties"]["SecretId"])
        return stack, logical_id

    def secrets(self, stack: str, node: Any) -> set[str]:
        found = set()
        for reference in references(node):
            target = self.target(stack, reference)
            if target and self.templates[target[0]]["Resources"][target[1]]["Type"] in SECRET_TYPES:
                found.add("/".join(target))
        return found

    def render(self, stack: str, node: Any) -> tuple[str, dict[str, Any]]:
        """A Fn::Join'ed JSON document as text, each reference replaced by a placeholder."""
        refs: dict[str, Any] = {}
        counter = itertools.count()

        def walk(part: Any) -> str:
            if isinstance(part, str):
                return part
            if _is_reference(part):
                key = f"<ref{next(counter)}>"
                refs[key] = part
                return key
            separator, parts = part["Fn::Join"]
            return separator.join(walk(p) for p in parts)

        return walk(node), refs

    def environment_secrets(self, stack: str, env: dict[str, Any], refs: dict[str, Any]) -> set[str]:
        """The secrets an environment names: every *_SECRET_ARN, and the shards' secrets in
        the shard map parameter it names."""
        named = set()
        for key, value in env.items():
            if key.endswith("_SECRET_ARN"):
                named |= self.secrets(stack, refs.get(value, value))
        if "SHARD_MAP_PARAMETER" in env:
            named |= self.shard_map_secrets(stack, refs.get(env["SHARD_MAP_PARAMETER"], env["SHARD_MAP_PARAMETER"]))
        return named

    def shard_map_secrets(self, stack: str, name: Any) -> set[str]:
        """The secrets in the shard map parameter, given by reference or by name."""
        target = self.target(stack, name) if _is_reference(name) else None
        for parameter_stack, template in self.templates.items():
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] != "AWS::SSM::Parameter":
                    continue
                if target == (parameter_stack, logical_id) or resource["Properties"].get("Name") == name:
                    text, refs = self.render(parameter_stack, resource["Properties"]["Value"])
                    shards = json.loads(text)["shards"]
                    return set().union(*(self.secrets(parameter_stack, refs[s["secret_arn"]]) for s in shards))
        raise AssertionError(f"no shard map parameter {name}")


def statements(template: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    """Allow statements of every policy attached to `role` (separate policies and inline ones)."""
    role_resource = template["Resources"][role]
    documents = [p["PolicyDocument"] for p in role_resource["Properties"].get("Policies", [])]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    for document in documents:
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                yield statement


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def readable_secrets(resolver: Resolver, stack: str, role: str) -> set[str]:
    template = resolver.templates[stack]
    return set().union(
        *(resolver.secrets(stack, s["Resource"]) for s in statements(template, role) if _actions(s) & READ_SECRET)
    )


def service_roles(resolver: Resolver) -> dict[tuple[str, str], set[str]]:
    """Every role the service runs as, with the secrets its wiring names: EC2 hosts read
    their environment from the app config parameter, ECS tasks get it in the task definition."""
    wired: dict[tuple[str, str], set[str]] = {}
    for stack, template in resolver.templates.items():
        resources = template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::SSM::Parameter" and "DB_WRITER_HOST" in json.dumps(resource["Properties"]):
                text, refs = resolver.render(stack, resource["Properties"]["Value"])
                named = resolver.environment_secrets(stack, json.loads(text), refs)
                for role, role_resource in resources.items():
                    if role_resource["Type"] == "AWS::IAM::Role" and any(
                        _actions(s) & READ_PARAMETER and {"Ref": logical_id} in list(references(s["Resource"]))
                        for s in statements(template, role)
                    ):
                        wired[(stack, role)] = named
            if resource["Type"] == "AWS::ECS::TaskDefinition":
                for container in resource["Properties"]["ContainerDefinitions"]:
                    env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
                    if "DB_WRITER_HOST" in env:
                        refs = {f"<env:{k}>": v for k, v in env.items() if not isinstance(v, str)}
                        env = {k: v if isinstance(v, str) else f"<env:{k}>" for k, v in env.items()}
                        role = resource["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
                        wired[(stack, role)] = resolver.environment_secrets(stack, env, refs)
    return wired


@pytest.mark.parametrize("stage_number", ALL_STAGES)
def test_each_service_role_reads_exactly_the_secrets_its_wiring_names(stages: StageCache, stage_number: int) -> None:
    stage = stages[stage_number]
    resolver = Resolver(stage)
    wired = service_roles(resolver)
    assert wired, "the service runs at every stage"
    for (stack, role), named in wired.items():
        assert named, f"{stack}/{role}: the wiring names no secret"
        assert readable_secrets(resolver, stack, role) == named, f"{stack}/{role}"
    if stage_number >= 3:
        assert any("scaling-cache/CacheAuthToken" in s for named in wired.values() for s in named)
    if stage_number >= 5:
        assert all(sum("Shard" in s for s in named) == stage.config.shards for named in wired.values())


@pytest.mark.parametrize("stage_number", [0, 5])
def test_only_the_user_provisioner_reads_a_master_secret(stages: StageCache, stage_number: int) -> None:
    resolver = Resolver(stages[stage_number])
    masters = set()
    for stack, template in resolver.templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::RDS::DBInstance" and "MasterUserPassword" in resource["Properties"]:
                masters |= resolver.secrets(stack, resource["Properties"]["MasterUserPassword"])
    assert len(masters) == 1 + (stages[stage_number].config.shards or 0)
    readers = {
        f"{stack}/{role}"
        for stack, template in resolver.templates.items()
        for role, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and readable_secrets(resolver, stack, role) & masters
    }
    assert len(readers) == 1 and next(iter(readers)).startswith("scaling-data/DatabaseUserProvisionerHandlerRole")


def test_the_check_sees_a_role_reading_one_secret_too_many(stages: StageCache) -> None:
    """The comparison can fail: grant the app tier one more secret and it differs."""
    stage = stages[3]
    resolver = Resolver(stage)
    (stack, role), named = next(iter(service_roles(resolver).items()))
    template = json.loads(json.dumps(stage.templates[stack]))
    template["Resources"]["ExtraGrant"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": {"Ref": "ExtraSecret"},
                    }
                ]
            },
        },
    }
    template["Resources"]["ExtraSecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {}}
    widened = Resolver(stage)
    widened.templates = {**stage.templates, stack: template}
    assert readable_secrets(widened, stack, role) == named | {f"{stack}/ExtraSecret"} != named
