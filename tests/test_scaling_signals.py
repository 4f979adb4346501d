"""Every stage below the last has alarms that say when it runs out of room, naming the next
stage and why it helps; the dashboard says the same where the stage has one."""

from __future__ import annotations

import json
import re

import pytest

from constructs_lib import scaling_signals
from constructs_lib.scaling_signals import CPU_PERCENT
from scaling_stacks.config import MAX_STAGE, STAGE_NAMES
from tests.stage_cache import ALL_STAGES, StageCache, props, resources
from tools.capacity.model import Limits

_NEXT = re.compile(r"^Time for stage (\d) \(([^)]+)\): (.+) has been at or above ([\d.]+) for 15 minutes\. (.{20,})$")


def scaling_alarms(stages: StageCache, stage: int) -> dict[str, dict[str, object]]:
    """Alarms whose description says it is time for another stage, by alarm name."""
    return {
        str(p["AlarmName"]): p
        for p in map(props, resources(stages[stage], "AWS::CloudWatch::Alarm").values())
        if str(p.get("AlarmDescription", "")).startswith("Time for stage")
    }


@pytest.mark.parametrize("stage", ALL_STAGES[:-1])
def test_each_stage_below_the_last_has_alarms_naming_the_next_stage_and_why(stages: StageCache, stage: int) -> None:
    alarms = scaling_alarms(stages, stage)
    assert alarms, f"stage {stage} has no alarm saying when to move to stage {stage + 1}"
    for name, alarm in alarms.items():
        found = _NEXT.match(str(alarm["AlarmDescription"]))
        assert found, alarm["AlarmDescription"]
        assert (int(found[1]), found[2]) == (stage + 1, STAGE_NAMES[stage + 1]), name
        assert float(found[4]) == alarm["Threshold"], "the description states the alarm's own threshold"
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
        assert alarm["AlarmActions"], "scaling signals reach the alarm topic"


def test_the_last_stage_has_no_next_stage_alarm(stages: StageCache) -> None:
    assert scaling_alarms(stages, MAX_STAGE) == {}


@pytest.mark.parametrize(
    ("stage", "metrics"),
    [
        (0, {"CPUUtilization", "DatabaseConnections"}),
        (2, {"CPUUtilization", "ReadIOPS", "WriteIOPS"}),
        (3, {"ReplicaLag", "Evictions"}),
        (4, {"WriteIOPS"}),
        (5, {"CPUUtilization", "GroupDesiredCapacity"}),
    ],
)
def test_the_signals_watch_what_fills_up_at_that_stage(stages: StageCache, stage: int, metrics: set[str]) -> None:
    watched = json.dumps(list(scaling_alarms(stages, stage).values()))
    assert all(f'"{metric}"' in watched for metric in metrics), metrics
    if stage == 5:
        assert sum("Shard" in name for name in scaling_alarms(stages, 5)) == 2, "one CPU alarm per shard"


@pytest.mark.parametrize("stage", [4, 5])
def test_the_dashboard_has_a_section_naming_the_next_stage(stages: StageCache, stage: int) -> None:
    [dashboard] = resources(stages[stage], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(props(dashboard)["DashboardBody"])
    assert f"When to move up: stage {stage + 1} ({STAGE_NAMES[stage + 1]})" in body
    assert f"Time for stage {stage + 1}" in body and f"{CPU_PERCENT}" in body


def test_thresholds_are_the_capacity_models_own_limits() -> None:
    limits = Limits.load()
    target = limits.value("utilization_target")
    assert round(target * 100) == scaling_signals.CPU_PERCENT
    assert int(limits.max_connections("t4g.micro") * target) == scaling_signals.SINGLE_BOX_DB_CONNECTIONS
    assert limits.value("rds_gp3_baseline_iops") == scaling_signals.GP3_BASELINE_IOPS
