"""Every stack of every stage pinned by a snapshot; review `--snapshot-update` diffs like code."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.stage_cache import ALL_STAGES, StageCache

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalised(template: dict[str, Any]) -> Any:
    """The template with asset hashes replaced: they change with unrelated file bytes."""
    return json.loads(_ASSET_HASH.sub("ASSET_HASH", json.dumps(template, sort_keys=True)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_stage_templates_match_snapshot(stages: StageCache, stage: int, snapshot_json: SnapshotAssertion) -> None:
    synthesized = stages[stage]
    for stack in synthesized.deploy_order:
        assert normalised(synthesized.templates[stack]) == snapshot_json(name=stack)
