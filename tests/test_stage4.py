"""Stage 4: elastic tiers with Spot, alarms to the topic, a dashboard, X-Ray; AWS Config opt-in."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3

from constructs_lib.aws_config import SECURITY_RULES, SecurityConfigRules
from constructs_lib.load_balancer import TierLoadBalancer
from constructs_lib.tier import ServiceTier, spot_instance_types
from scaling_stacks.config import DEFAULT_HOST_IMAGE, build_config
from tests.stage_cache import StageCache, props, resources


def groups(stages: StageCache, stage: int) -> dict[str, dict[str, Any]]:
    """The tiers' Auto Scaling groups by tier construct name (AppTier, WebTier)."""
    return {
        key.split("/")[1].split("Group")[0]: resource
        for key, resource in resources(stages[stage], "AWS::AutoScaling::AutoScalingGroup").items()
    }


def alarms(stages: StageCache, stage: int) -> list[dict[str, Any]]:
    return [props(alarm) for alarm in resources(stages[stage], "AWS::CloudWatch::Alarm").values()]


def alarmed_metrics(stages: StageCache, stage: int) -> set[str]:
    """Metric names alarmed on, whether an alarm names its metric or wraps it in a query."""
    return {
        alarm.get("MetricName") or query["MetricStat"]["Metric"]["MetricName"]
        for alarm in alarms(stages, stage)
        for query in alarm.get("Metrics", [{}])
        if "MetricName" in alarm or "MetricStat" in query
    }


def test_both_tiers_track_cpu_and_requests_per_target(stages: StageCache) -> None:
    tracked: dict[str, set[str]] = {}
    for policy in resources(stages[4], "AWS::AutoScaling::ScalingPolicy").values():
        tracking = props(policy)["TargetTrackingConfiguration"]
        metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        group = json.dumps(props(policy)["AutoScalingGroupName"])
        tracked.setdefault(metric, set()).add("AppTier" if "AppTier" in group else "WebTier")
    assert tracked == {
        "ASGAverageCPUUtilization": {"AppTier", "WebTier"},
        "ALBRequestCountPerTarget": {"AppTier", "WebTier"},
    }
    assert not resources(stages[3], "AWS::AutoScaling::ScalingPolicy")


def test_app_tier_mixes_spot_over_several_types_of_one_architecture(stages: StageCache) -> None:
    app = props(groups(stages, 4)["AppTier"])
    policy = app["MixedInstancesPolicy"]
    distribution = policy["InstancesDistribution"]
    assert distribution["OnDemandPercentageAboveBaseCapacity"] < 100  # a Spot share above 0
    assert distribution["OnDemandBaseCapacity"] >= 1
    assert distribution["SpotAllocationStrategy"] in ("capacity-optimized", "price-capacity-optimized")
    assert app["CapacityRebalance"] is True
    types = [override["InstanceType"] for override in policy["LaunchTemplate"]["Overrides"]]
    assert len(types) >= 3
    assert len({ec2.InstanceType(name).architecture for name in types}) == 1
    assert "MixedInstancesPolicy" not in props(groups(stages, 4)["WebTier"])  # web_spot is off by default


def test_spot_pools_stay_on_one_architecture_and_size() -> None:
    assert spot_instance_types("m7i.large") == ("m7i.large", "m6i.large", "m6a.large", "c7i.large")
    assert spot_instance_types("t4g.small") == ("t4g.small",)  # no other Graviton family has 'small'


def test_elastic_groups_leave_desired_capacity_to_scaling(stages: StageCache) -> None:
    for tier in ("AppTier", "WebTier"):
        assert "DesiredCapacity" not in props(groups(stages, 4)[tier]), tier
        fixed = props(groups(stages, 3)[tier])
        assert fixed["DesiredCapacity"] == fixed["MinSize"] == fixed["MaxSize"], tier
        rolling = groups(stages, 3)[tier]["UpdatePolicy"]["AutoScalingRollingUpdate"]
        assert int(rolling["MinInstancesInService"]) < int(fixed["MaxSize"])  # else CloudFormation refuses the update


def test_spot_changes_the_groups_in_place_and_keeps_volumes_encrypted(stages: StageCache) -> None:
    for kind in ("AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::LaunchTemplate"):
        assert set(resources(stages[3], kind)) == set(resources(stages[4], kind)), kind
    for template in resources(stages[4], "AWS::EC2::LaunchTemplate").values():
        devices = props(template)["LaunchTemplateData"]["BlockDeviceMappings"]
        assert devices and all(device["Ebs"]["Encrypted"] is True for device in devices)


def test_every_alarm_goes_to_the_alarm_topic(stages: StageCache) -> None:
    for stage in (0, 3, 4):
        found = alarms(stages, stage)
        assert found, stage
        for alarm in found:
            assert "AlarmsTopic" in json.dumps(alarm["AlarmActions"]), alarm["AlarmName"]


def test_stage_0_has_the_basic_alarms(stages: StageCache) -> None:
    metrics = alarmed_metrics(stages, 0)
    assert {"StatusCheckFailed", "CPUUtilization", "FreeStorageSpace"} <= metrics


def test_stage_4_alarms_cover_traffic_capacity_database_and_cache(stages: StageCache) -> None:
    metrics = alarmed_metrics(stages, 4)
    assert {
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "UnHealthyHostCount",
        "GroupInServiceInstances",
        "GroupDesiredCapacity",
        "CPUUtilization",
        "FreeStorageSpace",
        "DatabaseConnections",
        "ReplicaLag",
        "EngineCPUUtilization",
        "FreeableMemory",
        "Evictions",
    } <= metrics


def test_the_dashboard_comes_with_stage_4(stages: StageCache) -> None:
    assert len(resources(stages[4], "AWS::CloudWatch::Dashboard")) == 1
    assert not resources(stages[3], "AWS::CloudWatch::Dashboard")


def test_aws_config_is_opt_in_and_comes_with_stage_4(stages: StageCache) -> None:
    assert not resources(stages[4], "AWS::Config::ConfigurationRecorder")
    assert build_config({"stage": 4, "aws_config": "true"}.get, {}).has_aws_config
    assert not build_config({"stage": 3, "aws_config": "true"}.get, {}).has_aws_config


def test_aws_config_records_and_checks_the_security_rules() -> None:
    stack = cdk.Stack(cdk.App(), "Config", env=cdk.Environment(account="123456789012", region="us-east-1"))
    SecurityConfigRules(stack, "AwsConfig", log_bucket=s3.Bucket(stack, "Logs"))
    found = cdk.assertions.Template.from_stack(stack)
    found.resource_count_is("AWS::Config::ConfigurationRecorder", 1)
    found.resource_count_is("AWS::Config::DeliveryChannel", 1)
    rules = found.find_resources("AWS::Config::ConfigRule")
    identifiers = {rule["Properties"]["Source"]["SourceIdentifier"] for rule in rules.values()}
    assert identifiers == set(SECURITY_RULES.values())
    assert all("Recorder" in " ".join(rule["DependsOn"]) for rule in rules.values())


def test_a_scheduled_peak_holds_the_group_at_its_maximum_on_weekdays() -> None:
    stack = cdk.Stack(cdk.App(), "Tier", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, restrict_default_security_group=False)
    subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    tier = ServiceTier(
        stack,
        "Tier",
        vpc=vpc,
        subnets=subnets,
        instance_type="m7g.large",
        user_data=ec2.UserData.for_linux(),
        image_name=DEFAULT_HOST_IMAGE,
        min_capacity=2,
        max_capacity=8,
        description="tier",
    )
    TierLoadBalancer(
        stack,
        "Lb",
        vpc=vpc,
        subnets=subnets,
        targets=[tier.group],
        log_bucket=s3.Bucket(stack, "Logs"),
        log_prefix="lb",
    )
    tier.scale_elastically(peak_utc=("07:30", "19:00"))
    actions = cdk.assertions.Template.from_stack(stack).find_resources("AWS::AutoScaling::ScheduledAction")
    schedule = sorted((a["Properties"]["Recurrence"], a["Properties"]["MinSize"]) for a in actions.values())
    assert schedule == [("0 19 * * MON-FRI", 2), ("30 7 * * MON-FRI", 8)]
