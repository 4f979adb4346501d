"""When a stage runs out of room: the metrics that say so, their thresholds (in one place), and
the words an alarm uses to name the next stage and why it helps.

The thresholds are rules of thumb until the capacity model (tools/capacity, `make capacity`)
measures the stage's limits: CPU at 70% for 15 minutes leaves room for a spike and for a roll
that takes a host out; gp3 volumes give 3,000 IOPS at baseline; replica lag past the service's
read-your-writes window (READ_YOUR_WRITES_SECONDS, 5 s) shows other users stale reads; a cache
that evicts steadily is too small for the hot set. Replace a constant here when the model
gives a measured one; every alarm and dashboard section reads it from here."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

CPU_PERCENT = 70
# About 70% of MySQL's default max_connections on db.t4g.micro (1 GiB: about 80), the
# stage 0-1 default class; a larger db_instance_type raises the real limit.
SINGLE_BOX_DB_CONNECTIONS = 55
GP3_BASELINE_IOPS = 3000
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
