"""The plan as text (terminal), Markdown (pull-request comments) and JSON (machines)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from tools.stage_plan.model import Action, Finding, LeavingStack, Plan, ResourceChange, StackPlan

_SYMBOL = {"add": "+", "remove": "-", "modify": "~", "replace": "!"}
_VERB = {"add": "add", "remove": "remove", "modify": "modify", "replace": "REPLACE"}
_DATA_KINDS = ("data-loss", "stateful-removed", "data-kept", "interruption", "engine-upgrade", "engine-downgrade")
REMINDER = (
    "`cdk deploy` never deletes a stack that has left the app: until you run this command the stacks keep "
    "running (and costing). Run it after `cdk deploy --all` of the new stage."
)


_COUNTED: tuple[tuple[Action, str], ...] = (
    ("add", "added"),
    ("remove", "removed"),
    ("modify", "modified"),
    ("replace", "replaced"),
)


def _counts(stack: StackPlan) -> str:
    return ", ".join(f"{stack.count(action)} {word}" for action, word in _COUNTED)


def _detail(change: ResourceChange) -> str:
    parts = []
    if change.action == "replace":
        parts.append("because " + "; ".join(change.reasons))
    elif change.properties:
        parts.append("changes " + ", ".join(change.properties))
    if change.may_interrupt:
        parts.append("may interrupt: " + ", ".join(change.may_interrupt))
    return "; ".join(parts)


def _line(change: ResourceChange) -> str:
    stateful = " [stateful]" if change.stateful else ""
    path = f" ({change.path})" if change.path else ""
    detail = f": {_detail(change)}" if _detail(change) else ""
    return f"{_VERB[change.action]} {change.type} {change.logical_id}{path}{stateful}{detail}"


AVAILABILITY = "Availability, step by step in deploy order (DNS -> CloudFront -> origin -> target)"


def _availability(plan: Plan) -> list[str]:
    lines = [f"OUTAGE {w.stack} {w.resource}: {w.cause}. {w.message}" for w in plan.outage_windows]
    lines += [
        f"AWS-BOUNDED GAP (<= {g.bound_seconds} s) {g.stack} {g.resource}: {g.message}" for g in plan.bounded_gaps
    ]
    return lines or ["no outage window: viewers reach a healthy origin at every step"]


def _sections(plan: Plan) -> Iterator[tuple[str, tuple[Finding, ...]]]:
    yield "Stateful resources and their data", tuple(f for f in plan.findings if f.kind in _DATA_KINDS)
    yield "Cross-stack references", tuple(f for f in plan.findings if f.kind not in _DATA_KINDS)


def _title(plan: Plan) -> str:
    return f"Stage plan: {plan.before} -> {plan.after} ({plan.direction})"


def to_text(plan: Plan) -> str:
    lines = [_title(plan), f"cdk deploy --all updates the stacks in this order: {', '.join(plan.deploy_order)}", ""]
    for stack in plan.stacks:
        lines.append(f"== {stack.name}: {stack.status} ({_counts(stack)})")
        lines += [f"  {_SYMBOL[change.action]} {_line(change)}" for change in stack.changes]
    for title, findings in _sections(plan):
        lines += ["", f"{title}:"]
        lines += [f"  {f.severity.upper()} {f.kind}: {f.message}" for f in findings] or ["  nothing to report"]
    lines += ["", f"{AVAILABILITY}:"]
    lines += [f"  {line}" for line in _availability(plan)]
    lines += ["", "Stacks that leave the app:"]
    for leaving in plan.leaving:
        lines.append(f"  {leaving.name} ({leaving.resources} resources)")
        lines += [f"    {item}" for item in _fates(leaving)]
    if plan.destroy_command:
        lines += [f"  remove them with: {plan.destroy_command}", f"  {REMINDER}"]
    else:
        lines.append("  none")
    return "\n".join([*lines, "", plan.verdict])


def _fates(stack: LeavingStack) -> list[str]:
    return [f"survives the destroy: {survivor}" for survivor in stack.survivors] + [
        f"destroyed with its data: {lost}" for lost in stack.lost
    ]


def to_markdown(plan: Plan) -> str:
    lines = [f"### {_title(plan)}", "", f"**{plan.verdict}**", ""]
    lines += ["| Stack | Status | Added | Removed | Modified | Replaced |", "|---|---|---|---|---|---|"]
    lines += [
        f"| `{s.name}` | {s.status} | {s.count('add')} | {s.count('remove')} | {s.count('modify')} | "
        f"{s.count('replace')} |"
        for s in plan.stacks
    ]
    for stack in plan.stacks:
        if stack.changes:
            lines += ["", f"<details><summary><code>{stack.name}</code>: {_counts(stack)}</summary>", ""]
            lines += [f"- `{_SYMBOL[change.action]}` {_line(change)}" for change in stack.changes]
            lines += ["", "</details>"]
    for title, findings in _sections(plan):
        lines += ["", f"#### {title}", ""]
        lines += [f"- **{f.severity}** {f.kind}: {f.message}" for f in findings] or ["Nothing to report."]
    lines += ["", f"#### {AVAILABILITY}", ""]
    lines += [f"- {line}" for line in _availability(plan)]
    if plan.destroy_command:
        lines += ["", "#### Stacks that leave the app", ""]
        for leaving in plan.leaving:
            lines.append(f"- `{leaving.name}` ({leaving.resources} resources)")
            lines += [f"  - {item}" for item in _fates(leaving)]
        lines += ["", "Remove them with:", "", "```sh", plan.destroy_command, "```", "", REMINDER]
    return "\n".join(lines)


def to_json(plan: Plan) -> str:
    document = dataclasses.asdict(plan)
    document.update(verdict=plan.verdict, exit_code=plan.exit_code, blocking=len(plan.blocking))
    return json.dumps(document, indent=2)


RENDERERS = {"text": to_text, "markdown": to_markdown, "json": to_json}
