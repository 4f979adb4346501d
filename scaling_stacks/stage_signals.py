"""Which metrics show each stage running out of room, and what the next stage does about them:
the stage's scaling-signal alarms (constructs_lib/scaling_signals.py holds the thresholds)."""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs_lib import scaling_signals as limits
from constructs_lib.scaling_signals import ScalingSignal
from constructs_lib.web_server import SingleWebServer
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack


def stage_signals(
    config: StageConfig,
    *,
    data: DataStack,
    cache: CacheStack | None,
    box: SingleWebServer | None,
    app_group: autoscaling.IAutoScalingGroup | None,
) -> list[ScalingSignal]:
    """The signals that say it is time for `config.next_stage`; none at the last stage."""
    primary = data.primary.instance.instance_identifier
    if config.next_stage is None:
        return []
    if box is not None:
        return _single_box(config, box, primary)
    assert app_group is not None, "every stage after the box has an app tier"
    if not config.has_cache:
        return _one_database(primary)
    if not config.elastic_compute:
        return _fixed_tiers(data, cache, app_group)
    if not config.has_async:
        return _one_primary(primary)
    return _shards(config, data, app_group)


def _one_database(primary: str) -> list[ScalingSignal]:
    return [
        _signal(
            "PrimaryCpu",
            "the primary database's CPU (%)",
            limits.rds_metric(primary, "CPUUtilization"),
            limits.CPU_PERCENT,
            "A cache and read replicas take repeated reads off the primary.",
        ),
        _signal(
            "PrimaryIops",
            "the primary database's read + write IOPS",
            limits.rds_iops(primary),
            limits.DB_IOPS,
            "Reads served by the cache and the replicas stop costing the primary I/O.",
        ),
    ]


def _fixed_tiers(
    data: DataStack, cache: CacheStack | None, app_group: autoscaling.IAutoScalingGroup
) -> list[ScalingSignal]:
    app_cpu = limits.metric("AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": app_group.auto_scaling_group_name})
    signals = [
        _signal(
            "AppTierCpu",
            "the fixed-size app tier's average CPU (%)",
            app_cpu,
            limits.CPU_PERCENT,
            "Stage 4 makes the tiers scale out on CPU and request count (with Spot), instead of a "
            "fixed count that only a deploy changes.",
        ),
    ]
    for index, replica in enumerate(data.replica_instances, start=1):
        signals.append(
            _signal(
                f"Replica{index}Lag",
                f"read replica {index}'s lag (s)",
                limits.rds_metric(replica.instance_identifier, "ReplicaLag", "Maximum"),
                limits.REPLICA_LAG_SECONDS,
                "Users see stale reads past the read-your-writes window; stage 4's elastic app tier "
                "and its traces find the queries that load the replicas.",
            )
        )
    for index, node in enumerate(cache.node_ids if cache else [], start=1):
        signals.append(
            _signal(
                f"CacheNode{index}Evictions",
                f"cache node {index}'s eviction count per 5 minutes",
                limits.metric("AWS/ElastiCache", "Evictions", {"CacheClusterId": node}, "Sum"),
                limits.EVICTIONS_PER_5_MINUTES,
                "The hot set no longer fits: raise cache_node_type, and move to stage 4 so the app "
                "tier grows with the load that causes it.",
            )
        )
    return signals


def _one_primary(primary: str) -> list[ScalingSignal]:
    return [
        _signal(
            "PrimaryWriteIops",
            "the primary database's write IOPS",
            limits.rds_metric(primary, "WriteIOPS"),
            limits.WRITE_IOPS,
            "Every write still lands on one primary; stage 5 shards user data over several "
            "databases and moves posts to DynamoDB and follow-up work to a queue.",
        ),
        _signal(
            "PrimaryCpu",
            "the primary database's CPU (%)",
            limits.rds_metric(primary, "CPUUtilization"),
            limits.CPU_PERCENT,
            "Replicas cannot take writes; stage 5 spreads them over shards.",
        ),
    ]


def _shards(config: StageConfig, data: DataStack, app_group: autoscaling.IAutoScalingGroup) -> list[ScalingSignal]:
    assert data.shards, "stage 5 shards the user data"
    signals = [
        _signal(
            f"Shard{index}Cpu",
            f"shard {index}'s CPU (%)",
            limits.rds_metric(shard.instance.instance_identifier, "CPUUtilization"),
            limits.CPU_PERCENT,
            "One shard is hot: raise shards (then active_shards) to split it, and move to stage 6 so "
            "the users and posts services scale and deploy independently.",
        )
        for index, shard in enumerate(data.shards)
    ]
    signals.append(
        _signal(
            "AppTierAtMaximum",
            "the app tier's desired capacity",
            limits.metric(
                "AWS/AutoScaling",
                "GroupDesiredCapacity",
                {"AutoScalingGroupName": app_group.auto_scaling_group_name},
                "Maximum",
            ),
            config.app_capacity.max,
            "The monolith's tier is at its maximum; stage 6 splits it into services on Fargate that "
            "each scale on their own load.",
        )
    )
    return signals


def _single_box(config: StageConfig, box: SingleWebServer, primary: str) -> list[ScalingSignal]:
    helps = (
        "CloudFront serves static files and cacheable responses from the edge, taking load off the box."
        if not config.has_edge
        else "Two tiers behind a load balancer replace the one box, and the database moves to a "
        "dedicated Multi-AZ class."
    )
    return [
        _signal(
            "BoxCpu",
            "the single box's CPU (%)",
            limits.metric("AWS/EC2", "CPUUtilization", {"InstanceId": box.instance.instance_id}),
            limits.CPU_PERCENT,
            helps,
        ),
        _signal(
            "DatabaseCpu",
            "the database's CPU (%)",
            limits.rds_metric(primary, "CPUUtilization"),
            limits.CPU_PERCENT,
            helps,
        ),
        _signal(
            "DatabaseConnections",
            "the database's connection count",
            limits.rds_metric(primary, "DatabaseConnections", "Maximum"),
            limits.SINGLE_BOX_DB_CONNECTIONS,
            helps,
        ),
    ]


def _signal(
    name: str, what: str, metric: cloudwatch.Metric | cloudwatch.MathExpression, threshold: float, why: str
) -> ScalingSignal:
    return ScalingSignal(name=name, what=what, metric=metric, threshold=threshold, why=why)
