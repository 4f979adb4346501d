"""How this project creates its CDK app, for the CLI entry point and for in-process synthesis alike."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk


def new_app(**props: Any) -> cdk.App:
    """A `cdk.App` with `props`, without aws-cdk-lib's built-in CloudFormation template
    validation: it checks the resource schemas that cfn-lint checks as well (the tests lint
    every stage's templates, tests/test_cfn_lint.py), and running both cost every synth of
    stage 6 about 2 s, a third of its time."""
    return cdk.App(builtin_cloud_formation_validation=False, **props)
