"""Narrow cdk-nag acknowledgments: one finding on one construct, always with a reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge `finding` (a rule id, optionally with its `[granular]` part) on `scope`."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledgment of {finding} needs a real reason, got {reason!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
