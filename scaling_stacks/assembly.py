"""Synthesize a stage in this process, exactly as `cdk synth -c stage=N` would, and read
the result back as plain templates. Tests, the stage plan and the docs share it, so every
one of them looks at the same templates the CLI deploys."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from scaling_stacks.app_builder import build_app
from scaling_stacks.cdk_app import new_app
from scaling_stacks.config import StageConfig, build_config

ROOT = Path(__file__).resolve().parent.parent
# The CLI's own variables would make synth depend on whoever runs it; the offline default
# account and region keep the result the same on every machine.
_CLI_ENVIRONMENT = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON", "CDK_OUTDIR")


@dataclass(frozen=True)
class SynthesizedStage:
    """One stage's cloud assembly: templates by stack name, in deploy order."""

    config: StageConfig
    outdir: Path
    templates: Mapping[str, dict[str, Any]]
    deploy_order: tuple[str, ...]
    dependencies: Mapping[str, tuple[str, ...]]


def project_context() -> dict[str, Any]:
    """The context cdk.json and cdk.context.json give the CLI."""
    context: dict[str, Any] = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    context.update(json.loads((ROOT / "cdk.context.json").read_text()))
    return context


def stage_app(stage: int, outdir: Path, extra_context: Mapping[str, Any] | None = None) -> tuple[cdk.App, StageConfig]:
    """The app the CLI would build for `stage`, not yet synthesized."""
    context = project_context()
    context["stage"] = stage
    context.update(extra_context or {})
    app = new_app(outdir=str(outdir), context=context)
    environ = {k: v for k, v in os.environ.items() if k not in _CLI_ENVIRONMENT}
    config = build_config(app.node.try_get_context, environ)
    build_app(app, config)
    return app, config


def synth_stage(stage: int, outdir: Path, extra_context: Mapping[str, Any] | None = None) -> SynthesizedStage:
    app, config = stage_app(stage, outdir, extra_context)
    app.synth()
    return read_assembly(outdir, config)


def read_assembly(outdir: Path, config: StageConfig) -> SynthesizedStage:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    dependencies = {
        name: tuple(dep for dep in artifact.get("dependencies", []) if dep in stacks)
        for name, artifact in stacks.items()
    }
    templates = {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in stacks.items()
    }
    return SynthesizedStage(
        config=config,
        outdir=outdir,
        templates=templates,
        deploy_order=_topological(dependencies),
        dependencies=dependencies,
    )


def _topological(dependencies: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(dependencies[name]):
            visit(dep)
        order.append(name)

    for name in sorted(dependencies):
        visit(name)
    return tuple(order)
