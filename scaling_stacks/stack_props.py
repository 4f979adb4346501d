"""The keyword arguments every stack of this app passes through to ``cdk.Stack``, typed."""

from __future__ import annotations

from typing import TypedDict

import aws_cdk as cdk

# The tag every stack carries (value: the stack prefix); the data key's policy names the app's roles by it.
APP_TAG = "app"


class StackProps(TypedDict, total=False):
    """The subset of ``cdk.StackProps`` the app builder sets; add a key here to pass another."""

    env: cdk.Environment
    cross_region_references: bool
    description: str
    stack_name: str
    tags: dict[str, str]
    termination_protection: bool
