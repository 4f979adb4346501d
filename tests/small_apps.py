"""Small purpose-built CDK apps for the stage plan's tests, synthesized in-process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from tools.stage_plan import AppTemplates


def synth(outdir: Path, build: Callable[[cdk.App], None], context: Mapping[str, Any] | None = None) -> AppTemplates:
    app = cdk.App(outdir=str(outdir), context=dict(context or {}))
    build(app)
    stacks = app.synth().stacks
    return AppTemplates(
        templates={stack.stack_name: stack.template for stack in stacks},
        deploy_order=tuple(stack.stack_name for stack in stacks),
    )
