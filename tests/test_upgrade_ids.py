"""Stateful resources keep their logical ID, type and stack from the stage they appear in
to stage 6, so raising the stage never replaces or deletes their data."""

from __future__ import annotations

import copy
import dataclasses
import itertools

from scaling_stacks.assembly import SynthesizedStage
from tests.stage_cache import ALL_STAGES, StageCache, all_resources
from tools.stage_plan.stateful import deletion_fate, holds_copy, is_stateful


def stateful(stages: StageCache, stage: int) -> dict[tuple[str, str], str]:
    return {
        (stack, logical_id): resource["Type"]
        for stack, logical_id, resource in all_resources(stages[stage])
        if is_stateful(resource)
    }


def missing_later(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> list[str]:
    return [
        f"{stack}/{logical_id} ({kind})"
        for (stack, logical_id), kind in sorted(before.items())
        if after.get((stack, logical_id)) != kind
    ]


def test_every_stateful_resource_survives_each_upgrade(stages: StageCache) -> None:
    for lower, higher in itertools.pairwise(ALL_STAGES):
        lost = missing_later(stateful(stages, lower), stateful(stages, higher))
        assert not lost, f"stage {lower} -> {higher} would replace or delete: {lost}"


def test_the_check_catches_a_renamed_database() -> None:
    before = {("scaling-data", "PrimaryInstanceE61BB048"): "AWS::RDS::DBInstance"}
    after = {("scaling-data", "DatabaseInstance1234ABCD"): "AWS::RDS::DBInstance"}
    assert missing_later(before, after) == ["scaling-data/PrimaryInstanceE61BB048 (AWS::RDS::DBInstance)"]


def test_the_primary_database_keeps_its_logical_id_at_every_stage(stages: StageCache) -> None:
    ids = {
        stage: sorted(
            logical_id
            for stack, logical_id, resource in all_resources(stages[stage])
            if resource["Type"] == "AWS::RDS::DBInstance" and logical_id.startswith("PrimaryInstance")
        )
        for stage in ALL_STAGES
    }
    assert len({tuple(found) for found in ids.values()}) == 1 and len(ids[0]) == 1, ids


def loses_data_on_removal(stage: SynthesizedStage) -> list[str]:
    """Stateful resources whose data a delete would destroy; a read replica holds a copy."""
    return [
        f"{stack}/{logical_id}"
        for stack, logical_id, resource in all_resources(stage)
        if is_stateful(resource) and deletion_fate(resource) == "deleted" and not holds_copy(resource)
    ]


def test_every_stateful_resource_keeps_its_data_when_removed(stages: StageCache) -> None:
    for stage in ALL_STAGES:
        assert not loses_data_on_removal(stages[stage]), f"stage {stage}"


def test_the_removal_check_catches_a_deletable_secret(stages: StageCache) -> None:
    stage = stages[0]
    templates = copy.deepcopy(dict(stage.templates))
    secret = next(
        r for r in templates["scaling-data"]["Resources"].values() if r["Type"] == "AWS::SecretsManager::Secret"
    )
    secret["DeletionPolicy"] = "Delete"
    broken = dataclasses.replace(stage, templates=templates)
    assert len(loses_data_on_removal(broken)) == 1


def test_the_removal_check_knows_every_type_the_stage_plan_calls_stateful(stages: StageCache) -> None:
    stage = stages[0]
    templates = copy.deepcopy(dict(stage.templates))
    templates["scaling-data"]["Resources"]["Search"] = {"Type": "AWS::OpenSearchService::Domain", "Properties": {}}
    broken = dataclasses.replace(stage, templates=templates)
    assert loses_data_on_removal(broken) == ["scaling-data/Search"]
