"""cfn-lint, run in worker processes while the session goes on.

cfn-lint spends most of its time validating each resource against its schema, and the
seven stages repeat most resources unchanged. So each resource definition is linted once:
a stage's template is cut down to the resources not seen before in that stack, plus
what they reference (so every Ref and GetAtt still resolves), and handed to a worker as
soon as the stage is synthesized, so the linting overlaps the rest of the suite."""

from __future__ import annotations

import functools
import json
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from scaling_stacks.assembly import SynthesizedStage

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)")


@functools.cache
def _rules(region: str) -> Any:
    # Loading the rules costs about half a second; each worker does it once per region.
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=[region])).rules


def _lint(where: str, text: str, region: str) -> list[str]:
    from cfnlint.api import lint

    return [
        f"{where}: {match.rule.id} {match.message}"
        for match in lint(text, rules=_rules(region), regions=[region])
        if match.rule.severity == "error"
    ]


def _references(resource: dict[str, Any]) -> Iterator[str]:
    depends_on = resource.get("DependsOn", [])
    yield from [depends_on] if isinstance(depends_on, str) else depends_on
    yield from _names(resource.get("Properties", {}))


def _names(value: Any) -> Iterator[str]:
    """Every logical id `value` refers to through Ref, GetAtt or Sub."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
            elif key == "Fn::Sub":
                yield from _SUB_NAME.findall(inner if isinstance(inner, str) else inner[0])
                if isinstance(inner, list):
                    yield from _names(inner[1])
            else:
                yield from _names(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _names(inner)


def cut_down(template: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """`template` with only the `wanted` resources and everything they reference."""
    resources = template["Resources"]
    keep: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name in keep or name not in resources:
            continue
        keep.add(name)
        pending.extend(_references(resources[name]))
    # Outputs are dropped: they may name resources that were cut.
    cut = {key: value for key, value in template.items() if key not in ("Resources", "Outputs")}
    cut["Resources"] = {name: resources[name] for name in sorted(keep)}
    return cut


class BackgroundLinter:
    def __init__(self) -> None:
        # spawn, not fork: a forked child would share the jsii kernel's pipes.
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._seen: set[tuple[str, str, str]] = set()
        self._jobs: list[Future[list[str]]] = []

    def submit(self, stage: SynthesizedStage) -> None:
        for stack in stage.deploy_order:
            template = stage.templates[stack]
            definitions = {
                name: json.dumps(resource, sort_keys=True) for name, resource in template["Resources"].items()
            }
            new = {name for name, text in definitions.items() if (stack, name, text) not in self._seen}
            if not new:
                continue
            self._seen.update((stack, name, definitions[name]) for name in new)
            where = f"stage {stage.config.stage} {stack}"
            text = json.dumps(cut_down(template, new))
            self._jobs.append(self._pool.submit(_lint, where, text, stage.config.region))

    def errors(self) -> list[str]:
        return [error for job in self._jobs for error in job.result()]

    @property
    def linted(self) -> int:
        return len(self._jobs)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
