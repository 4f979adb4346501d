"""cfn-lint, run in a second process while the session goes on.

cfn-lint spends about a second per template on JSON-schema validation. Each stage's
templates are handed to a worker as soon as the stage is synthesized, so on a two-core
machine the linting overlaps the rest of the suite instead of adding to it."""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from scaling_stacks.assembly import SynthesizedStage


def _lint(where: str, text: str, region: str) -> list[str]:
    from cfnlint.api import lint

    return [
        f"{where}: {match.rule.id} {match.message}"
        for match in lint(text, regions=[region])
        if match.rule.severity == "error"
    ]


class BackgroundLinter:
    def __init__(self) -> None:
        # spawn, not fork: a forked child would share the jsii kernel's pipes.
        self._pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
        self._seen: set[str] = set()
        self._jobs: list[Future[list[str]]] = []

    def submit(self, stage: SynthesizedStage) -> None:
        for stack in stage.deploy_order:
            text = (stage.outdir / f"{stack}.template.json").read_text()
            digest = hashlib.sha256(text.encode()).hexdigest()
            # A stack often synthesizes identically at several stages: lint it once.
            if digest not in self._seen:
                self._seen.add(digest)
                where = f"stage {stage.config.stage} {stack}"
                self._jobs.append(self._pool.submit(_lint, where, text, stage.config.region))

    def errors(self) -> list[str]:
        return [error for job in self._jobs for error in job.result()]

    @property
    def linted(self) -> int:
        return len(self._jobs)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
