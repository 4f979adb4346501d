"""Each stage synthesized once per test session, on first use, shared by every test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from scaling_stacks.assembly import SynthesizedStage, synth_stage
from scaling_stacks.config import MAX_STAGE, MIN_STAGE

ALL_STAGES = tuple(range(MIN_STAGE, MAX_STAGE + 1))
# One certificate (offline, the app's region is us-east-1, where CloudFront's must be) for the
# site's name and its origin name, as a *.example.com certificate would be.
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
# A site with its own name and certificates: the variant tests of DNS, TLS and the edge share it.
DOMAIN_CONTEXT: Mapping[str, str] = {
    "domain_name": "www.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
    "certificate_arn": CERTIFICATE_ARN,
    "cloudfront_certificate_arn": CERTIFICATE_ARN,
}


class StageCache:
    def __init__(self, root: Path, on_synth: Callable[[SynthesizedStage], None] | None = None) -> None:
        self._root = root
        self._on_synth = on_synth
        self._stages: dict[str, SynthesizedStage] = {}

    def __getitem__(self, stage: int) -> SynthesizedStage:
        return self.variant(stage, {})

    def variant(self, stage: int, extra_context: Mapping[str, Any]) -> SynthesizedStage:
        """`stage`, or `stage` synthesized with extra context such as `{"shards": 4}`."""
        key = f"{stage}:{json.dumps(extra_context, sort_keys=True)}"
        if key not in self._stages:
            outdir = self._root / f"stage-{stage}-{len(self._stages)}"
            self._stages[key] = synth_stage(stage, outdir, dict(extra_context))
            if self._on_synth and not extra_context:
                self._on_synth(self._stages[key])
        return self._stages[key]


def resources(stage: SynthesizedStage, resource_type: str) -> dict[str, dict[str, Any]]:
    """Every resource of `resource_type` in the stage, keyed `stack/LogicalId`."""
    return {
        f"{stack}/{logical_id}": resource
        for stack, template in stage.templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def props(resource: Mapping[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties", {}))


def all_resources(stage: SynthesizedStage) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in stage.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            yield stack, logical_id, resource
