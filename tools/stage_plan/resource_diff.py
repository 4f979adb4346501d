"""Per-stack resource changes between two templates, with replacement decided by the schemas."""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from tools.stage_plan.in_place import documented_in_place
from tools.stage_plan.intrinsics import normalize, referenced_resources, stack_outputs_read
from tools.stage_plan.model import ResourceChange
from tools.stage_plan.schemas import Path_, replacement_rules
from tools.stage_plan.stateful import is_stateful

# Resource attributes whose change is an update of the resource, besides its properties.
_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy", "Condition")
_MISSING = object()

Template = Mapping[str, Any]
OutputRef = tuple[str, str]


def construct_path(resource: Mapping[str, Any]) -> str:
    return str(resource.get("Metadata", {}).get("aws:cdk:path", ""))


def _at(value: Any, steps: Path_) -> list[Any]:
    """Every value at a schema path; a `*` step fans out over a list, an intrinsic stops the walk."""
    if not steps:
        return [normalize(value)]
    head, rest = steps[0], steps[1:]
    if head == "*":
        if isinstance(value, list):
            return [found for item in value for found in _at(item, rest)]
        return [normalize(value)]
    if isinstance(value, dict) and head in value:
        return _at(value[head], rest)
    if isinstance(value, dict) and any(key.startswith("Fn::") for key in value):
        return [normalize(value)]
    return [_MISSING]


def _pointer(steps: Path_) -> str:
    return "/".join(steps)


class _Changed:
    """What else changes at deploy time: replaced resources in this stack, outputs of other stacks."""

    def __init__(self, outputs: Set[OutputRef]) -> None:
        self.replaced: dict[str, tuple[str, ...]] = {}
        self.outputs = outputs

    def why(self, value: Any) -> str | None:
        for logical_id in sorted(referenced_resources(value)):
            if logical_id in self.replaced:
                return f"refers to replaced {logical_id}"
        for stack, output in sorted(stack_outputs_read(value)):
            if (stack, output) in self.outputs:
                return f"reads {stack} output {output}, whose value changes"
        return None


def _replacement_reasons(old: Template, new: Template, changed: _Changed) -> list[str]:
    if old["Type"] != new["Type"]:
        return [f"type changes from {old['Type']}"]
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    rules = replacement_rules(new["Type"])
    reasons = []
    for steps in rules.create_only:
        before, after = _at(old_props, steps), _at(new_props, steps)
        if before != after:
            reasons.append(f"{_pointer(steps)} changes (create-only)")
        elif why := changed.why(after):
            reasons.append(f"{_pointer(steps)} {why}")
    if is_stateful(new):
        # Data at stake: "replaced under some conditions" counts as replaced, unless AWS documents it as in place.
        reasons += [
            f"{_pointer(steps)} changes (conditionally create-only, not documented as an in-place change)"
            for steps in rules.conditional
            if _at(old_props, steps) != _at(new_props, steps) and not documented_in_place(new["Type"], _pointer(steps))
        ]
    return reasons


def _modified_properties(old: Template, new: Template, changed: _Changed) -> list[str]:
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    names = []
    for name in sorted(set(old_props) | set(new_props)):
        before, after = normalize(old_props.get(name, _MISSING)), normalize(new_props.get(name, _MISSING))
        if before != after or (after is not _MISSING and changed.why(after)):
            names.append(name)
    names.extend(attribute for attribute in _ATTRIBUTES if old.get(attribute) != new.get(attribute))
    return names


def _may_interrupt(old: Template, new: Template, modified: list[str]) -> tuple[str, ...]:
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    return tuple(
        _pointer(steps)
        for steps in replacement_rules(new["Type"]).conditional
        if steps and steps[0] in modified and _at(old_props, steps) != _at(new_props, steps)
    )


def diff_stack(
    stack: str, old: Template | None, new: Template | None, changed_outputs: Set[OutputRef]
) -> tuple[tuple[ResourceChange, ...], set[str]]:
    """Resource changes of one stack, and the logical ids CloudFormation replaces."""
    old_resources: Mapping[str, Template] = (old or {}).get("Resources", {})
    new_resources: Mapping[str, Template] = (new or {}).get("Resources", {})
    common = sorted(set(old_resources) & set(new_resources))
    changed = _Changed(changed_outputs)
    # A replacement gives the resource a new physical id, which can replace what refers to it.
    while True:
        found = {
            logical_id: reasons
            for logical_id in common
            if logical_id not in changed.replaced
            and (reasons := _replacement_reasons(old_resources[logical_id], new_resources[logical_id], changed))
        }
        if not found:
            break
        changed.replaced.update({logical_id: tuple(reasons) for logical_id, reasons in found.items()})

    def change(logical_id: str, resource: Template, action: str, **extra: Any) -> ResourceChange:
        return ResourceChange(
            stack=stack,
            logical_id=logical_id,
            type=resource["Type"],
            path=construct_path(resource),
            action=action,  # type: ignore[arg-type]
            stateful=is_stateful(resource),
            **extra,
        )

    changes = [change(i, new_resources[i], "add") for i in sorted(set(new_resources) - set(old_resources))]
    changes += [change(i, old_resources[i], "remove") for i in sorted(set(old_resources) - set(new_resources))]
    for logical_id in common:
        old_resource, new_resource = old_resources[logical_id], new_resources[logical_id]
        modified = _modified_properties(old_resource, new_resource, changed)
        if logical_id in changed.replaced:
            changes.append(
                change(
                    logical_id,
                    old_resource,
                    "replace",
                    properties=tuple(modified),
                    reasons=changed.replaced[logical_id],
                )
            )
        elif modified:
            interrupt = _may_interrupt(old_resource, new_resource, modified)
            changes.append(
                change(logical_id, new_resource, "modify", properties=tuple(modified), may_interrupt=interrupt)
            )
    return tuple(changes), set(changed.replaced)
