"""Every database runs MySQL 8.4 LTS with the slow-query log on, replicas grow like their
source, and a running 8.0 system reaches 8.4 in place."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.stage_cache import ALL_STAGES, StageCache, props, resources
from tools.stage_plan.model import AppTemplates
from tools.stage_plan.plan import build_plan


def _instances(stages: StageCache, stage: int) -> dict[str, dict[str, Any]]:
    return resources(stages[stage], "AWS::RDS::DBInstance")


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_instance_that_names_an_engine_runs_mysql_8_4_and_may_upgrade_majors(
    stages: StageCache, stage: int
) -> None:
    named = {name: props(r) for name, r in _instances(stages, stage).items() if "EngineVersion" in props(r)}
    assert named, "every stage has at least the primary"
    assert {name: p["EngineVersion"] for name, p in named.items()} == dict.fromkeys(named, "8.4")
    assert all(p["AllowMajorVersionUpgrade"] is True and p["AutoMinorVersionUpgrade"] is True for p in named.values())


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_parameter_group_switches_on_the_slow_query_log_and_it_is_exported(
    stages: StageCache, stage: int
) -> None:
    groups = resources(stages[stage], "AWS::RDS::DBParameterGroup")
    assert groups
    for group in groups.values():
        assert props(group)["Family"] == "mysql8.4"
        assert props(group)["Parameters"] | {"slow_query_log": "1", "log_output": "FILE"} == props(group)["Parameters"]
        assert float(props(group)["Parameters"]["long_query_time"]) > 0
    for instance in _instances(stages, stage).values():
        assert "slowquery" in props(instance)["EnableCloudwatchLogsExports"]


def test_read_replicas_grow_their_storage_as_far_as_the_primary(stages: StageCache) -> None:
    instances = _instances(stages, 3)
    replicas = [p for p in map(props, instances.values()) if "SourceDBInstanceIdentifier" in p]
    primary = next(p for p in map(props, instances.values()) if "SourceDBInstanceIdentifier" not in p)
    assert len(replicas) == 2
    assert {p.get("MaxAllocatedStorage") for p in replicas} == {primary["MaxAllocatedStorage"]}


def _as_mysql_8_0(templates: dict[str, Any]) -> dict[str, Any]:
    """The same app as the previous release deployed it: MySQL 8.0.46 and mysql8.0 parameter groups."""
    old = copy.deepcopy(templates)
    for template in old.values():
        for resource in template.get("Resources", {}).values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::RDS::DBInstance" and "EngineVersion" in properties:
                properties["EngineVersion"] = "8.0.46"
                properties.pop("AllowMajorVersionUpgrade")
            if resource["Type"] == "AWS::RDS::DBParameterGroup":
                properties["Family"] = "mysql8.0"
    return old


def test_a_running_8_0_system_reaches_8_4_in_place_and_the_plan_says_how(stages: StageCache) -> None:
    now = stages[3]
    before = AppTemplates(templates=_as_mysql_8_0(dict(now.templates)), deploy_order=now.deploy_order)
    plan = build_plan(before, now, before_label="8.0", after_label="8.4", direction="change", destroy_context="")
    changes = {c.logical_id: c for stack in plan.stacks for c in stack.changes if c.type.startswith("AWS::RDS::DB")}
    instances = {name for name, c in changes.items() if c.type == "AWS::RDS::DBInstance"}
    assert {changes[name].action for name in instances} == {"modify"}, "no database is replaced"
    assert {c.action for c in changes.values() if c.type == "AWS::RDS::DBParameterGroup"} == {"replace"}
    notes = [f for f in plan.findings if f.kind == "engine-upgrade"]
    assert len(notes) == 1 and notes[0].severity == "note"
    assert "8.0 to 8.4 in place" in notes[0].message
    replicas = sorted(name for name in instances if name != notes[0].subject)
    assert f"upgrade {', '.join(replicas)} first" in notes[0].message
    assert not plan.blocking


def test_the_plan_blocks_a_major_version_downgrade(stages: StageCache) -> None:
    now = stages[0]
    older = AppTemplates(templates=_as_mysql_8_0(dict(now.templates)), deploy_order=now.deploy_order)
    plan = build_plan(now, older, before_label="8.4", after_label="8.0", direction="change", destroy_context="")
    assert [f.kind for f in plan.blocking] == ["engine-downgrade"]
