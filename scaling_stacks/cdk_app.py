"""How this project creates its CDK app, for the CLI entry point and for in-process synthesis alike."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

# aws-cdk-lib's cx-api DISABLE_CREATION_STACK_TRACES, which its Python module does not export.
DISABLE_CREATION_STACK_TRACES = "aws:cdk:disable-creation-stack-traces"


def new_app(*, context: dict[str, Any] | None = None, **props: Any) -> cdk.App:
    """A `cdk.App` with `props`, without aws-cdk-lib's built-in CloudFormation template
    validation: it checks the resource schemas that cfn-lint checks as well (the tests lint
    every stage's templates, tests/test_cfn_lint.py), and running both cost every synth of
    stage 6 about 2 s, a third of its time. Nor does it record a stack trace for every
    resource it creates (only `cdk synth --debug` does): set here, not in cdk.json, where the
    CLI warns about every key of aws-cdk-lib's own `aws:` namespace."""
    context = {DISABLE_CREATION_STACK_TRACES: True, **(context or {})}
    return cdk.App(builtin_cloud_formation_validation=False, context=context, **props)
