"""What a stage plan holds: its input (synthesized templates) and its findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Action = Literal["add", "remove", "modify", "replace"]
Severity = Literal["blocking", "warning", "note"]
Direction = Literal["upgrade", "downgrade", "change"]
StackStatus = Literal["new", "changed", "unchanged"]


class Templates(Protocol):
    """A synthesized app: `scaling_stacks.assembly.SynthesizedStage` is one, so is `AppTemplates`."""

    @property
    def templates(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def deploy_order(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class AppTemplates:
    """Templates by stack name and the order `cdk deploy --all` deploys them in."""

    templates: Mapping[str, Mapping[str, Any]]
    deploy_order: tuple[str, ...]


@dataclass(frozen=True)
class ResourceChange:
    stack: str
    logical_id: str
    type: str
    path: str
    action: Action
    properties: tuple[str, ...] = ()
    # Why CloudFormation replaces it (create-only properties that change, replaced resources it refers to).
    reasons: tuple[str, ...] = ()
    # Properties whose change replaces or interrupts only under some conditions.
    may_interrupt: tuple[str, ...] = ()
    stateful: bool = False


@dataclass(frozen=True)
class StackPlan:
    name: str
    status: StackStatus
    changes: tuple[ResourceChange, ...]

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    kind: str
    stack: str
    subject: str
    message: str


@dataclass(frozen=True)
class OutageWindow:
    """A moment of the deploy when viewers on some path reach no healthy origin."""

    stack: str
    resource: str
    cause: str
    message: str


@dataclass(frozen=True)
class BoundedGap:
    """A window AWS leaves open (a DNS TTL), with its bound: kept as short as it can be, and documented."""

    stack: str
    resource: str
    cause: str
    bound_seconds: int
    message: str


@dataclass(frozen=True)
class LeavingStack:
    """A stack in the FROM app only: `cdk deploy` leaves it running; `cdk destroy` removes it."""

    name: str
    resources: int
    survivors: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    before: str
    after: str
    direction: Direction
    deploy_order: tuple[str, ...]
    stacks: tuple[StackPlan, ...]
    findings: tuple[Finding, ...]
    leaving: tuple[LeavingStack, ...] = ()
    destroy_command: str | None = None
    allow_data_loss: bool = False
    outage_windows: tuple[OutageWindow, ...] = ()
    bounded_gaps: tuple[BoundedGap, ...] = ()
    allow_outage: bool = False

    def by_severity(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.severity == severity)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return self.by_severity("blocking")

    @property
    def verdict(self) -> str:
        windows = len(self.outage_windows)
        outage = f"{windows} outage window(s)"
        blocking = self.blocking
        if blocking:
            kinds = ", ".join(sorted({finding.kind for finding in blocking}))
            tail = (
                "accepted with --allow-data-loss"
                if self.allow_data_loss
                else "rerun with --allow-data-loss only if that is intended"
            )
            return f"verdict: BLOCKED: {len(blocking)} blocking finding(s) ({kinds}); {outage}; {tail}"
        extras = []
        if warnings := self.by_severity("warning"):
            extras.append(f"{len(warnings)} warning(s) to review")
        if self.bounded_gaps:
            extras.append(f"{len(self.bounded_gaps)} gap(s) only AWS can bound (DNS TTL), listed with their bound")
        if self.leaving:
            extras.append(f"{len(self.leaving)} stack(s) left behind until you run the cdk destroy command")
        suffix = "; " + "; ".join(extras) if extras else ""
        data = "no stateful data is lost and no deploy can deadlock"
        if windows:
            tail = "accepted with --allow-outage" if self.allow_outage else "rerun with --allow-outage only if intended"
            return f"verdict: OUTAGE: {outage}, the site stops answering during the deploy; {data}; {tail}{suffix}"
        return f"verdict: safe: {data}; {outage}: viewers reach a healthy origin at every step{suffix}"

    @property
    def exit_code(self) -> int:
        data = bool(self.blocking) and not self.allow_data_loss
        outage = bool(self.outage_windows) and not self.allow_outage
        return 1 if data or outage else 0
