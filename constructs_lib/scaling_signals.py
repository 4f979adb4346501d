"""When a stage runs out of room: the metrics that say so, their thresholds (in one place), and
the words an alarm uses to name the next stage and why it helps.

The thresholds come from the capacity model's data (tools/capacity/limits.json, which gives
each figure its source and date), so an alarm fires where `make capacity` says the stage stops
sustaining its load: CPU at the model's utilization target for 15 minutes (room for a spike and
for a roll that takes a host out); the database's connections at that share of MySQL's default
max_connections on the stage 0-1 class (a larger db_instance_type raises the real limit);
I/O against gp3's baseline IOPS. Replica lag past the service's read-your-writes window
(READ_YOUR_WRITES_SECONDS, 5 s) shows other users stale reads, and a cache that evicts
steadily is too small for the hot set: those two are the service's own rules, not the model's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

CAPACITY_LIMITS = Path(__file__).resolve().parent.parent / "tools" / "capacity" / "limits.json"
SINGLE_BOX_DB_CLASS = "t4g.micro"


def _limit(limits: Mapping[str, Any], key: str) -> float:
    return float(limits[key]["value"])


def _single_box_db_connections(limits: Mapping[str, Any]) -> int:
    """MySQL's default max_connections ({DBInstanceClassMemory/12582880}) on the stage 0-1 class, at the target."""
    memory = limits["rds_classes"]["classes"][SINGLE_BOX_DB_CLASS]["memory_gib"] * 2**30
    usable = memory * _limit(limits, "rds_instance_class_memory_share")
    max_connections = usable // _limit(limits, "rds_max_connections_bytes_per_connection")
    return int(max_connections * _limit(limits, "utilization_target"))


_LIMITS = json.loads(CAPACITY_LIMITS.read_text())
CPU_PERCENT = round(_limit(_LIMITS, "utilization_target") * 100)
SINGLE_BOX_DB_CONNECTIONS = _single_box_db_connections(_LIMITS)
GP3_BASELINE_IOPS = int(_limit(_LIMITS, "rds_gp3_baseline_iops"))
DB_IOPS = int(GP3_BASELINE_IOPS * 0.8)
REPLICA_LAG_SECONDS = 5
EVICTIONS_PER_5_MINUTES = 100
WRITE_IOPS = int(GP3_BASELINE_IOPS * 2 / 3)
PERIOD = cdk.Duration.minutes(5)
# Three five-minute periods in a row: a trend, not a spike.
SUSTAINED_PERIODS = 3


@dataclass(frozen=True, kw_only=True)
class ScalingSignal:
    """One metric that shows the running stage out of room: `name` (alarm id), `what` (the
    metric in words), `threshold` (alarm at or above it) and `why` (how the next stage helps)."""

    name: str
    what: str
    metric: cloudwatch.Metric | cloudwatch.MathExpression
    threshold: float
    why: str

    def description(self, next_stage: int, next_name: str) -> str:
        minutes = int(PERIOD.to_minutes()) * SUSTAINED_PERIODS
        return (
            f"Time for stage {next_stage} ({next_name}): {self.what} has been at or above "
            f"{self.threshold:g} for {minutes} minutes. {self.why}"
        )


def metric(namespace: str, name: str, dimensions: dict[str, str], statistic: str = "Average") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic=statistic, period=PERIOD
    )


def rds_metric(instance_identifier: str, name: str, statistic: str = "Average") -> cloudwatch.Metric:
    return metric("AWS/RDS", name, {"DBInstanceIdentifier": instance_identifier}, statistic)


def rds_iops(instance_identifier: str) -> cloudwatch.MathExpression:
    """Read plus write I/O operations per second of one instance."""
    return cloudwatch.MathExpression(
        expression="reads + writes",
        using_metrics={
            "reads": rds_metric(instance_identifier, "ReadIOPS"),
            "writes": rds_metric(instance_identifier, "WriteIOPS"),
        },
        label="IOPS",
        period=PERIOD,
    )
