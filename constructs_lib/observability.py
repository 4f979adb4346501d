from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ElastiCacheClusterType,
    HighConnectionCountThreshold,
    MaxItemsCountThreshold,
    MinFreeableMemoryThreshold,
    MinUsageCountThreshold,
    MonitoringFacade,
    SnsAlarmActionStrategy,
    UsageThreshold,
)
from constructs import Construct

from constructs_lib.scaling_signals import SUSTAINED_PERIODS, ScalingSignal

_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_BELOW = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
_GIB = 1024**3


# A single slow datapoint is noise; three five-minute periods in a row is a trend.
class _Periods(TypedDict):
    evaluation_periods: int
    datapoints_to_alarm: int


_SUSTAINED: _Periods = {"evaluation_periods": 3, "datapoints_to_alarm": 3}


class StageMonitoring(Construct):
    """Alarms for what a stage runs, all sending to `topic`, and (with `dashboard=True`) a
    CloudWatch dashboard of the same metrics, built with cdk-monitoring-constructs'
    MonitoringFacade. Each `monitor_*` call adds one resource's alarms and widgets; names
    start with `name_prefix`. Thresholds are starting points to tune with real traffic.

    :param topic: Where every alarm sends.
    :param name_prefix: The prefix of alarm and dashboard names.
    :param dashboard: Whether to create the dashboard.
    """

    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic, name_prefix: str, dashboard: bool):
        super().__init__(scope, construct_id)
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=name_prefix,
                action=SnsAlarmActionStrategy(on_alarm_topic=topic),
            ),
            dashboard_factory=DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=name_prefix,
                create_dashboard=dashboard,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )

    def monitor_instance_status(self, *, name: str, instance_id: str) -> None:
        """EC2 instance or system status check failing."""
        metric = _metric("AWS/EC2", "StatusCheckFailed", {"InstanceId": instance_id}, "Maximum")
        self._custom(
            name,
            "Status checks",
            [
                (
                    metric,
                    "StatusCheck",
                    CustomThreshold(
                        comparison_operator=_ABOVE, threshold=1, evaluation_periods=2, datapoints_to_alarm=2
                    ),
                )
            ],
        )

    def monitor_database(
        self, *, name: str, instance: rds.IDatabaseInstance, max_connections: int | None = None
    ) -> None:
        """CPU and free storage; with `max_connections`, connections above it as well."""
        connections = (
            {"Warning": HighConnectionCountThreshold(max_connection_count=max_connections, **_SUSTAINED)}
            if max_connections
            else None
        )
        self.facade.monitor_rds_instance(
            instance=instance,
            alarm_friendly_name=name,
            human_readable_name=name,
            add_cpu_usage_alarm={"Warning": UsageThreshold(max_usage_percent=80, **_SUSTAINED)},
            add_free_storage_space_alarm={"Warning": MinUsageCountThreshold(min_count=2 * _GIB)},
            add_max_connection_count_alarm=connections,
        )

    def monitor_replica_lag(self, *, name: str, instance: rds.IDatabaseInstance, max_seconds: int = 30) -> None:
        """A read replica falling behind its source (stale reads) or stopping replication."""
        metric = _metric("AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": instance.instance_identifier}, "Maximum")
        self._custom(
            name,
            "Replica lag (s)",
            [(metric, "ReplicaLag", CustomThreshold(comparison_operator=_ABOVE, threshold=max_seconds, **_SUSTAINED))],
        )

    def monitor_tier(
        self, *, name: str, group: autoscaling.IAutoScalingGroup, min_capacity: int, max_capacity: int
    ) -> None:
        """Fewer instances in service than the minimum; an elastic group pinned at its maximum."""
        dimensions = {"AutoScalingGroupName": group.auto_scaling_group_name}
        in_service = _metric("AWS/AutoScaling", "GroupInServiceInstances", dimensions, "Minimum")
        alarms = [
            (
                in_service,
                "BelowMinimum",
                CustomThreshold(comparison_operator=_BELOW, threshold=min_capacity, **_SUSTAINED),
            )
        ]
        if max_capacity > min_capacity:
            desired = _metric("AWS/AutoScaling", "GroupDesiredCapacity", dimensions, "Maximum")
            alarms.append(
                (
                    desired,
                    "AtMaximum",
                    CustomThreshold(comparison_operator=_ABOVE, threshold=max_capacity, **_SUSTAINED),
                )
            )
        self.facade.monitor_auto_scaling_group(
            auto_scaling_group=group, alarm_friendly_name=name, human_readable_name=name
        )
        self._custom(name, "Capacity", alarms)

    def monitor_load_balancer(
        self,
        *,
        name: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        target_group: elbv2.IApplicationTargetGroup,
        max_5xx_per_period: int = 10,
        max_p99_latency_seconds: float = 2.0,
    ) -> None:
        """5xx from the load balancer and its targets, p99 target latency, unhealthy hosts."""
        period = cdk.Duration.minutes(5)
        elb_5xx = load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period)
        target_5xx = load_balancer.metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period)
        latency = target_group.metrics.target_response_time(statistic="p99", period=period)
        unhealthy = target_group.metrics.unhealthy_host_count(statistic="Maximum", period=period)
        self._custom(
            name,
            "Load balancer",
            [
                (elb_5xx, "Elb5xx", CustomThreshold(comparison_operator=_ABOVE, threshold=max_5xx_per_period)),
                (target_5xx, "Target5xx", CustomThreshold(comparison_operator=_ABOVE, threshold=max_5xx_per_period)),
                (
                    latency,
                    "TargetLatencyP99",
                    CustomThreshold(comparison_operator=_ABOVE, threshold=max_p99_latency_seconds, **_SUSTAINED),
                ),
                (unhealthy, "UnhealthyHosts", CustomThreshold(comparison_operator=_ABOVE, threshold=1, **_SUSTAINED)),
            ],
        )

    def monitor_cache(
        self, *, name: str, node_ids: Sequence[str], min_freeable_memory_bytes: int = 256 * 1024**2
    ) -> None:
        """Per node: engine CPU, freeable memory, evictions (keys pushed out for lack of memory)."""
        for index, node_id in enumerate(node_ids, start=1):
            node = f"{name}-Node{index}"
            self.facade.monitor_elasti_cache_cluster(
                cluster_id=node_id,
                cluster_type=ElastiCacheClusterType.REDIS,
                alarm_friendly_name=node,
                human_readable_name=node,
                add_redis_engine_cpu_usage_alarm={"Warning": UsageThreshold(max_usage_percent=80, **_SUSTAINED)},
                add_min_freeable_memory_alarm={
                    "Warning": MinFreeableMemoryThreshold(min_freeable_memory_in_bytes=min_freeable_memory_bytes)
                },
                add_max_evicted_items_count_alarm={"Warning": MaxItemsCountThreshold(max_items_count=1000)},
            )

    def monitor_scaling_signals(self, *, next_stage: int, next_name: str, signals: Sequence[ScalingSignal]) -> None:
        """An alarm per signal whose description names the next stage and why it helps, and a
        dashboard section (when the stage has a dashboard) that says the same."""
        self.facade.add_large_header(f"When to move up: stage {next_stage} ({next_name})")
        self.facade.add_widget(
            cloudwatch.TextWidget(
                markdown="\n".join(f"* {signal.description(next_stage, next_name)}" for signal in signals),
                width=24,
                height=2 + 2 * len(signals),
            )
        )
        self.facade.monitor_custom(
            alarm_friendly_name="ScalingSignals",
            human_readable_name=f"Scaling signals: time for stage {next_stage}",
            metric_groups=[
                CustomMetricGroup(
                    title=signal.what,
                    metrics=[
                        CustomMetricWithAlarm(
                            metric=signal.metric,
                            alarm_friendly_name=signal.name,
                            add_alarm={
                                "Warning": CustomThreshold(
                                    comparison_operator=_ABOVE,
                                    threshold=signal.threshold,
                                    evaluation_periods=SUSTAINED_PERIODS,
                                    datapoints_to_alarm=SUSTAINED_PERIODS,
                                    alarm_description_override=signal.description(next_stage, next_name),
                                )
                            },
                        )
                    ],
                )
                for signal in signals
            ],
        )

    def _custom(
        self,
        name: str,
        title: str,
        alarms: Sequence[tuple[cloudwatch.Metric | cloudwatch.MathExpression, str, CustomThreshold]],
    ) -> None:
        self.facade.monitor_custom(
            alarm_friendly_name=name,
            human_readable_name=name,
            metric_groups=[
                CustomMetricGroup(
                    title=title,
                    metrics=[
                        CustomMetricWithAlarm(
                            metric=metric, alarm_friendly_name=suffix, add_alarm={"Warning": threshold}
                        )
                        for metric, suffix, threshold in alarms
                    ],
                )
            ],
        )


def _metric(namespace: str, metric_name: str, dimensions: Mapping[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map=dict(dimensions),
        statistic=statistic,
        period=cdk.Duration.minutes(5),
    )
