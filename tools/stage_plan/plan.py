"""Builds the plan of deploying one synthesized app over another: the function tests and the CLI share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaling_stacks.config import STAGE_NAMES
from tools.stage_plan.availability import analyse
from tools.stage_plan.cross_stack import OutputChange, hazards, output_changes
from tools.stage_plan.engine_upgrade import engine_changes
from tools.stage_plan.model import (
    Direction,
    Finding,
    LeavingStack,
    Plan,
    ResourceChange,
    StackPlan,
    StackStatus,
    Templates,
)
from tools.stage_plan.resource_diff import construct_path, diff_stack
from tools.stage_plan.stateful import deletion_fate, describe_fate, holds_copy, is_stateful, kind, replacement_fate


def stage_label(stage: int) -> str:
    return f"stage {stage} ({STAGE_NAMES[stage]})"


def plan_stages(before: Templates, after: Templates, from_stage: int, to_stage: int, **options: Any) -> Plan:
    """The plan of `cdk deploy --all -c stage=TO` over a running stage FROM."""
    return build_plan(
        before,
        after,
        before_label=stage_label(from_stage),
        after_label=stage_label(to_stage),
        direction="upgrade" if to_stage > from_stage else "downgrade" if to_stage < from_stage else "change",
        destroy_context=f"-c stage={from_stage}",
        **options,
    )


def build_plan(
    before: Templates,
    after: Templates,
    *,
    before_label: str,
    after_label: str,
    direction: Direction,
    destroy_context: str,
    allow_data_loss: bool = False,
    allow_outage: bool = False,
) -> Plan:
    order = after.deploy_order
    stacks: list[StackPlan] = []
    changed_outputs: dict[str, list[OutputChange]] = {}
    changed_reads: set[tuple[str, str]] = set()
    replaced_by_stack: dict[str, set[str]] = {}
    for name in order:
        old = before.templates.get(name)
        changes, replaced = diff_stack(name, old, after.templates[name], changed_reads)
        replaced_by_stack[name] = replaced
        removed = {change.logical_id for change in changes if change.action == "remove"}
        changed_outputs[name] = output_changes(name, old, after.templates[name], removed | replaced, changed_reads)
        changed_reads |= {(change.stack, change.output) for change in changed_outputs[name]}
        status: StackStatus = "new" if old is None else "changed" if changes else "unchanged"
        stacks.append(StackPlan(name=name, status=status, changes=changes))
    findings = [
        finding
        for stack in stacks
        for change in stack.changes
        if (finding := _data_finding(change, before.templates, after.templates, direction))
    ]
    findings += hazards(before.templates, after.templates, order, changed_outputs)
    findings += engine_changes(before.templates, after.templates)
    windows, gaps, address_changes = analyse(before.templates, after.templates, order, replaced_by_stack)
    findings += address_changes
    leaving = tuple(
        _leaving(name, before.templates[name]) for name in reversed(before.deploy_order) if name not in after.templates
    )
    names = " ".join(stack.name for stack in leaving)
    destroy = f'make cdk ARGS="destroy {destroy_context} --exclusively {names}"' if leaving else None
    return Plan(
        before=before_label,
        after=after_label,
        direction=direction,
        deploy_order=order,
        stacks=tuple(stacks),
        findings=tuple(findings),
        leaving=leaving,
        destroy_command=destroy,
        allow_data_loss=allow_data_loss,
        outage_windows=tuple(windows),
        bounded_gaps=tuple(gaps),
        allow_outage=allow_outage,
    )


def _named(change: ResourceChange) -> str:
    path = f" ({change.path})" if change.path else ""
    return f"{change.logical_id}{path}"


def _moved_to(change: ResourceChange, after: Mapping[str, Mapping[str, Any]]) -> str:
    for stack, template in after.items():
        resource = template.get("Resources", {}).get(change.logical_id)
        if stack != change.stack and resource and resource["Type"] == change.type:
            return f" {stack} creates a new, empty one with the same logical id."
    return ""


def _data_finding(
    change: ResourceChange,
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    direction: Direction,
) -> Finding | None:
    if not change.stateful or change.action == "add":
        return None
    old = before[change.stack]["Resources"][change.logical_id]
    what = f"{kind(old)} {_named(change)} in {change.stack}"
    if change.action == "replace":
        return Finding(
            "blocking",
            "data-loss",
            change.stack,
            change.logical_id,
            f"replaces {what}: {'; '.join(change.reasons)}. The new one starts empty; the old one's data is "
            f"{describe_fate(replacement_fate(old))}.",
        )
    if change.action == "remove":
        fate = deletion_fate(old)
        message = f"removes {what}: {describe_fate(fate)}.{_moved_to(change, after)}"
        if direction != "downgrade":
            return Finding("blocking", "stateful-removed", change.stack, change.logical_id, message)
        if fate == "deleted" and not holds_copy(old):
            return Finding("blocking", "data-loss", change.stack, change.logical_id, message)
        copy = " It holds a copy of another database's data." if holds_copy(old) else ""
        return Finding("note", "data-kept", change.stack, change.logical_id, message + copy)
    if change.may_interrupt:
        return Finding(
            "note",
            "interruption",
            change.stack,
            change.logical_id,
            f"changes {', '.join(change.may_interrupt)} of {what}: in place, but CloudFormation may interrupt "
            "or (under some conditions) replace it; check the property's update behaviour.",
        )
    return None


def _leaving(name: str, template: Mapping[str, Any]) -> LeavingStack:
    survivors, lost = [], []
    for logical_id, resource in template.get("Resources", {}).items():
        fate = deletion_fate(resource)
        label = f"{resource['Type']} {logical_id} ({construct_path(resource)})"
        if fate != "deleted":
            survivors.append(f"{label}: {describe_fate(fate)}")
        elif is_stateful(resource) and not holds_copy(resource):
            lost.append(label)
    return LeavingStack(
        name=name, resources=len(template.get("Resources", {})), survivors=tuple(survivors), lost=tuple(lost)
    )
