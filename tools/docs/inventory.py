"""Every resource of a synthesized stage with its layer, and who references whom, across stacks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaling_stacks.assembly import SynthesizedStage
from tools.docs.catalog import service_of

ResourceKey = tuple[str, str]

# References made only to deliver logs or notifications describe where records go, not where
# requests go; following them would draw every component into the log bucket and alarm topic.
# User data names the hosts an instance calls, but the security group rules already say that,
# with the direction, which a reference alone cannot.
_NOT_A_FLOW = re.compile(r"log|notification|alarmactions|okactions|insufficientdataactions|userdata", re.IGNORECASE)
# What CDK appends to a construct path to make a logical ID unique (instances and attached
# secrets add a second, lower-case hash).
_LOGICAL_ID_HASH = re.compile(r"[0-9A-F]{8}(?:[0-9a-f]{16}|[0-9a-f]{32})?$")


@dataclass(frozen=True)
class Resource:
    stack: str
    layer: str
    logical_id: str
    type: str
    properties: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> ResourceKey:
        return (self.stack, self.logical_id)

    @property
    def service(self) -> str:
        return service_of(self.type)

    @property
    def name(self) -> str:
        """The logical ID without CDK's hash: stable from stage to stage."""
        name = _LOGICAL_ID_HASH.sub("", self.logical_id) or self.logical_id
        # Some constructs prefix their ID with the stack name ("scalingdataPrimaryInstanceSecret").
        return name.removeprefix(self.stack.replace("-", "")) or name


class Inventory:
    """The resources of one stage and the references between them (Ref, GetAtt, stack outputs)."""

    def __init__(self, stage: SynthesizedStage) -> None:
        self.stage = stage
        prefix = f"{stage.config.stack_prefix}-"
        self._templates = stage.templates
        self.resources: dict[ResourceKey, Resource] = {}
        for stack in stage.deploy_order:
            layer = stack.removeprefix(prefix)
            for logical_id, body in stage.templates[stack].get("Resources", {}).items():
                self.resources[(stack, logical_id)] = Resource(
                    stack, layer, logical_id, body["Type"], body.get("Properties", {})
                )
        self._exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in stage.templates.items()
            for output in template.get("Outputs", {}).values()
            if isinstance(output.get("Export", {}).get("Name"), str)
        }
        # A stack that reads another's value through an SSM parameter ("{{resolve}}" at deploy time) names
        # it in a template parameter; following it joins the reader to what the parameter holds.
        self._ssm_parameters = {
            str(res.properties["Name"]): res
            for res in self.resources.values()
            if res.type == "AWS::SSM::Parameter" and isinstance(res.properties.get("Name"), str)
        }
        self._references = {
            key: frozenset(self._collect(key[0], res.properties)) for key, res in self.resources.items()
        }
        referrers: dict[ResourceKey, set[ResourceKey]] = {key: set() for key in self.resources}
        for key, targets in self._references.items():
            for target in targets:
                referrers[target].add(key)
        self._referrers = {key: frozenset(keys) for key, keys in referrers.items()}

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    def references(self, key: ResourceKey) -> frozenset[ResourceKey]:
        """Resources `key` refers to in its properties, log and notification targets left out."""
        return self._references[key]

    def referrers(self, key: ResourceKey) -> frozenset[ResourceKey]:
        return self._referrers[key]

    def refs_in(self, stack: str, value: Any) -> set[ResourceKey]:
        """Resources a property value of a resource in `stack` refers to."""
        return set(self._collect(stack, value))

    def of_type(self, resource_type: str) -> list[Resource]:
        return [res for res in self.resources.values() if res.type == resource_type]

    def _collect(self, stack: str, value: Any) -> Iterator[ResourceKey]:
        if isinstance(value, list):
            for item in value:
                # Attribute lists such as [{"Key": "access_logs.s3.bucket", "Value": ...}].
                if isinstance(item, dict) and _NOT_A_FLOW.search(str(item.get("Key", ""))):
                    continue
                yield from self._collect(stack, item)
        elif isinstance(value, dict):
            if len(value) == 1:
                (function, argument), *_ = value.items()
                target = self._target(stack, function, argument)
                if target is not None:
                    yield from target
                    return
            for key, item in value.items():
                if not _NOT_A_FLOW.search(key):
                    yield from self._collect(stack, item)

    def _target(self, stack: str, function: str, argument: Any) -> Iterator[ResourceKey] | None:
        if function == "Ref" and isinstance(argument, str):
            if (stack, argument) in self.resources:
                return iter([(stack, argument)])
            parameter = self._templates.get(stack, {}).get("Parameters", {}).get(argument, {})
            held = self._ssm_parameters.get(str(parameter.get("Default")))
            if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value") and held is not None:
                return self._collect(held.stack, held.properties.get("Value"))
            return iter([])
        if function == "Fn::GetAtt" and isinstance(argument, list) and isinstance(argument[0], str):
            return iter([(stack, argument[0])] if (stack, argument[0]) in self.resources else [])
        if function == "Fn::GetStackOutput" and isinstance(argument, dict):
            other = str(argument.get("StackName"))
            output = self._templates.get(other, {}).get("Outputs", {}).get(str(argument.get("OutputName")))
            return self._collect(other, output["Value"]) if output else iter([])
        if function == "Fn::ImportValue" and isinstance(argument, str) and argument in self._exports:
            other, exported = self._exports[argument]
            return self._collect(other, exported)
        return None
