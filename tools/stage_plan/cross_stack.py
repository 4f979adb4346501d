"""Cross-stack reference hazards, replayed in the order `cdk deploy --all` updates the stacks.

While stack P deploys, every stack before it in the target order already runs its new template,
every stack after it (or no longer in the app) still runs its old one. A strong reference
(`Fn::ImportValue`) then deadlocks when P removes or changes an export that one of those still
imports; a weak one (`Fn::GetStackOutput`) never blocks, but a reader keeps the value it last
resolved until it deploys again, and a read of an output that is gone fails that reader's deploy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

from tools.stage_plan.intrinsics import exports_imported, normalize, referenced_resources, stack_outputs_read
from tools.stage_plan.model import Finding, Severity

Template = Mapping[str, Any]


@dataclass(frozen=True)
class OutputChange:
    """An output of a stack whose value a deploy removes or changes."""

    stack: str
    output: str
    removed: bool
    export: str | None
    # Resources the old value points at that this deploy deletes or replaces.
    dangling: tuple[str, ...]


def outputs(template: Template | None) -> Mapping[str, Any]:
    return (template or {}).get("Outputs", {})


def _export_name(output: Mapping[str, Any]) -> str | None:
    name = output.get("Export", {}).get("Name")
    return None if name is None else name if isinstance(name, str) else repr(normalize(name))


def _exports(template: Template | None) -> set[str]:
    return {name for output in outputs(template).values() if (name := _export_name(output))}


def output_changes(
    stack: str, old: Template | None, new: Template | None, gone: Set[str], changed_reads: Set[tuple[str, str]]
) -> list[OutputChange]:
    """Outputs of `stack` removed or changed; `gone` holds its removed and replaced logical ids."""
    found = []
    new_outputs = outputs(new)
    for name, output in outputs(old).items():
        value = output.get("Value")
        after = new_outputs.get(name)
        removed = after is None
        changed = (
            after is None
            or normalize(after.get("Value")) != normalize(value)
            or _export_name(after) != _export_name(output)
            or bool(referenced_resources(value) & gone)
            or bool(stack_outputs_read(value) & changed_reads)
        )
        if changed:
            dangling = tuple(sorted(referenced_resources(value) & gone))
            found.append(OutputChange(stack, name, removed, _export_name(output), dangling))
    return found


def _deployed(
    before: Mapping[str, Template], after: Mapping[str, Template], order: tuple[str, ...], index: int
) -> dict[str, Template]:
    """The templates running while the stack at `index` of the target deploy order deploys."""
    running = dict(before)
    running.update({name: after[name] for name in order[:index]})
    return running


class _References:
    """Each template's cross-stack reads, found once: the replay asks for them at every step."""

    def __init__(self) -> None:
        self._found: dict[int, tuple[set[tuple[str, str]], set[str]]] = {}

    def _of(self, template: Template) -> tuple[set[tuple[str, str]], set[str]]:
        key = id(template)
        if key not in self._found:
            self._found[key] = (stack_outputs_read(template), exports_imported(template))
        return self._found[key]

    def outputs_read(self, template: Template) -> set[tuple[str, str]]:
        return self._of(template)[0]

    def imported(self, template: Template) -> set[str]:
        return self._of(template)[1]

    def readers(self, running: Mapping[str, Template], stack: str, output: str) -> Iterator[str]:
        return (name for name, t in running.items() if name != stack and (stack, output) in self.outputs_read(t))

    def importers(self, running: Mapping[str, Template], stack: str, export: str) -> Iterator[str]:
        return (name for name, t in running.items() if name != stack and export in self.imported(t))


def hazards(
    before: Mapping[str, Template],
    after: Mapping[str, Template],
    order: tuple[str, ...],
    changes: Mapping[str, list[OutputChange]],
) -> list[Finding]:
    findings: list[Finding] = []
    references = _References()
    changed = {(change.stack, change.output) for stack_changes in changes.values() for change in stack_changes}
    for index, stack in enumerate(order):
        running = _deployed(before, after, order, index)
        findings += _missing_reads(stack, after[stack], running, order, changed, references)
        for change in changes.get(stack, []):
            findings += _stale_readers(change, running, order, index, after, references)
            if change.export:
                findings += [
                    Finding(
                        "blocking",
                        "deadlock",
                        stack,
                        change.export,
                        f"{stack} {'removes' if change.removed else 'changes'} export {change.export} while "
                        f"{importer} still imports it: CloudFormation refuses to update {stack} and the deploy "
                        "stops (deadlock). Stop importing it first, in a deploy of its own.",
                    )
                    for importer in references.importers(running, stack, change.export)
                ]
    return findings


def _missing_reads(
    stack: str,
    template: Template,
    running: Mapping[str, Template],
    order: tuple[str, ...],
    changed: Set[tuple],
    references: _References,
) -> Iterator[Finding]:
    for producer, output in sorted(references.outputs_read(template)):
        if output not in outputs(running.get(producer)):
            yield Finding(
                "blocking",
                "broken-reference",
                stack,
                f"{producer}.{output}",
                f"{stack} reads output {output} of {producer}, which does not exist when {stack} deploys; "
                "its deploy fails.",
            )
        elif producer in order and order.index(producer) > order.index(stack) and (producer, output) in changed:
            yield Finding(
                "warning",
                "stale-reference",
                stack,
                f"{producer}.{output}",
                f"{stack} deploys before {producer}, so it keeps the old value of {output} until its next deploy.",
            )
    exported = {export for running_template in running.values() for export in _exports(running_template)}
    for export in sorted(references.imported(template) - exported):
        yield Finding(
            "blocking",
            "broken-reference",
            stack,
            export,
            f"{stack} imports export {export}, which no stack exports when {stack} deploys; its deploy fails.",
        )


def _stale_readers(
    change: OutputChange,
    running: Mapping[str, Template],
    order: tuple[str, ...],
    index: int,
    after: Mapping,
    references: _References,
) -> Iterator[Finding]:
    what = "removes" if change.removed else "changes"
    deleted = f" and deletes or replaces {', '.join(change.dangling)}" if change.dangling else ""
    for reader in references.readers(running, change.stack, change.output):
        subject = f"{change.stack}.{change.output}"
        severity: Severity
        if reader in order[:index]:
            severity = "blocking" if change.removed else "warning"
            kind = "broken-reference" if change.removed else "stale-reference"
            message = f"{reader} deploys before {change.stack} and reads {change.output}, which {change.stack} {what}."
        elif reader in after:
            if not change.dangling:
                continue
            severity, kind = "warning", "availability"
            message = (
                f"{change.stack} {what} output {change.output}{deleted}; {reader} keeps using the old value until "
                f"it deploys after {change.stack}: expect an interruption in between."
            )
        else:
            severity, kind = "warning", "stale-reference"
            message = (
                f"{reader} left the app but reads output {change.output} of {change.stack}, which this deploy "
                f"{what}{deleted}; it keeps the old value until you destroy it."
            )
        yield Finding(severity, kind, reader, subject, message)
