from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.instance_defaults import (
    DEEP_HEALTH_URL,
    HEALTH_CHECK_GRACE,
    HEALTHY_WITHIN,
    HOST_READY_TIMEOUT,
    LOAD_BALANCER_SETTLE,
    amazon_linux,
    encrypted_root_volume,
    session_manager_role,
)
from constructs_lib.user_data import add_health_gate

# Same-size alternatives for a Spot pool, by CPU architecture: several families keep the
# group running when one Spot pool is reclaimed. Sizes below medium exist only in the
# burstable families.
_SPOT_FAMILIES = {
    ec2.InstanceArchitecture.ARM_64: ("m8g", "m7g", "c8g", "c7g", "r8g", "m6g", "t4g"),
    ec2.InstanceArchitecture.X86_64: ("m7i", "m6i", "m6a", "c7i", "t3"),
}
_BURSTABLE_FAMILIES = {ec2.InstanceArchitecture.ARM_64: ("t4g",), ec2.InstanceArchitecture.X86_64: ("t3", "t3a")}
_BURSTABLE_ONLY_SIZES = ("nano", "micro", "small")
# Processes a rolling update pauses so that nothing else launches or terminates hosts
# while CloudFormation replaces them (AWS's advice). HealthCheck and ReplaceUnhealthy keep
# running: a host that turns unhealthy mid-roll is still replaced.
_PAUSED_DURING_ROLL = (
    autoscaling.ScalingProcess.AZ_REBALANCE,
    autoscaling.ScalingProcess.ALARM_NOTIFICATION,
    autoscaling.ScalingProcess.SCHEDULED_ACTIONS,
)


def spot_instance_types(instance_type: str, count: int = 4) -> tuple[str, ...]:
    """`instance_type` first, then up to `count - 1` same-size types of the same CPU architecture."""
    family, size = instance_type.split(".", 1)
    architecture = ec2.InstanceType(instance_type).architecture
    families = (_BURSTABLE_FAMILIES if size in _BURSTABLE_ONLY_SIZES else _SPOT_FAMILIES)[architecture]
    alternatives = [f"{other}.{size}" for other in families if other != family]
    return (instance_type, *alternatives)[:count]


@dataclass(frozen=True, kw_only=True)
class SpotMix:
    """How a tier mixes purchase options: `on_demand_base` instances always on demand, then
    `spot_percentage` of the rest on Spot, over `instance_types` (first has priority on demand)."""

    on_demand_base: int
    spot_percentage: int
    instance_types: tuple[str, ...]


class ServiceTier(Construct):
    """One tier of hosts: an Auto Scaling group from a launch template (IMDSv2 only,
    encrypted gp3 root volume, detailed monitoring, SSM Session Manager and no SSH key,
    the Amazon Linux 2023 release `image_name`), spread evenly over the given subnets'
    AZs, replaced when its load balancer says a host is unhealthy. Every host signals
    CloudFormation once `health_check_url` (default: the service's deep health check)
    answers; the group's creation and every roll wait for those signals. A change of the
    launch template (user data, image) rolls the group one instance at a time: each new
    host must signal success, or the deploy fails and rolls back. `user_data` must be
    complete: the health gate is appended last.
    `desired_capacity` is written only for a fixed-size group (min == max): in an elastic
    group it would reset whatever the scaling policies chose on every deploy. With `spot`
    the group runs a mixed instances policy (price-capacity-optimised Spot, capacity
    rebalancing). Call `scale_elastically` once the group is behind its load balancer.

    :param vpc: The VPC of the group and its security group.
    :param subnets: The subnets the group spreads its hosts over.
    :param instance_type: The hosts' instance type (and the first of a Spot mix).
    :param user_data: The complete boot script; the health gate is appended to it.
    :param image_name: The Amazon Linux 2023 release the hosts boot.
    :param min_capacity: The fewest hosts.
    :param max_capacity: The most hosts.
    :param desired_capacity: The host count of a fixed-size group (min == max); ignored otherwise. Default: none
    :param spot: How to mix Spot with on-demand hosts. Default: none, on-demand only
    :param notifications: Where the group's launch and termination notifications go. Default: none
    :param health_check_url: What a new host polls before it signals success. Default: http://127.0.0.1/health/deep
        (`DEEP_HEALTH_URL`)
    :param description: What the hosts are; it describes the security group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        user_data: ec2.UserData,
        image_name: str,
        min_capacity: int,
        max_capacity: int,
        desired_capacity: int | None = None,
        spot: SpotMix | None = None,
        notifications: list[autoscaling.NotificationConfiguration] | None = None,
        health_check_url: str = DEEP_HEALTH_URL,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=description, allow_all_outbound=False
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.HTTPS, "AWS APIs (SSM, Secrets Manager, S3) and package repositories"
        )
        self.role = session_manager_role(self, "Role")
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=ec2.InstanceType(instance_type),
            machine_image=amazon_linux(instance_type, image_name=image_name),
            user_data=user_data,
            role=self.role,
            security_group=self.security_group,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            detailed_monitoring=True,
            block_devices=[encrypted_root_volume()],
        )
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity
        self.group = self._group(
            vpc=vpc,
            subnets=subnets,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            desired_capacity=desired_capacity,
            spot=spot,
            notifications=notifications,
        )
        add_health_gate(
            user_data, resource=self.group, url=health_check_url, within=HEALTHY_WITHIN, settle=LOAD_BALANCER_SETTLE
        )
        self._acknowledge_group(spot=spot is not None)

    def _group(
        self,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        min_capacity: int,
        max_capacity: int,
        desired_capacity: int | None,
        spot: SpotMix | None,
        notifications: list[autoscaling.NotificationConfiguration] | None,
    ) -> autoscaling.AutoScalingGroup:
        """The group: health-gated creation and one-at-a-time rolls, ELB health checks."""
        return autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=None if spot else self.launch_template,
            mixed_instances_policy=self._mixed_instances(spot) if spot else None,
            capacity_rebalance=True if spot else None,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            desired_capacity=desired_capacity if min_capacity == max_capacity else None,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=HEALTH_CHECK_GRACE
            ),
            az_capacity_distribution_strategy=autoscaling.CapacityDistributionStrategy.BALANCED_BEST_EFFORT,
            group_metrics=[autoscaling.GroupMetrics.all()],
            notifications=notifications,
            # Creation waits for the first `min_capacity` hosts to pass the health gate.
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=HOST_READY_TIMEOUT, min_success_percentage=100),
            # CloudFormation needs MinInstancesInService below MaxSize, so a fixed-size group
            # rolls with one instance out at a time; an elastic one adds the new host first.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                min_instances_in_service=min(min_capacity, max_capacity - 1),
                max_batch_size=1,
                min_success_percentage=100,
                wait_on_resource_signals=True,
                pause_time=HOST_READY_TIMEOUT,
                suspend_processes=list(_PAUSED_DURING_ROLL),
            ),
            default_instance_warmup=cdk.Duration.minutes(3),
        )

    def _acknowledge_group(self, *, spot: bool) -> None:
        if spot:
            group_resource = self.group.node.default_child
            assert group_resource is not None, "an AutoScalingGroup always has its CfnAutoScalingGroup"
            acknowledge(
                group_resource,
                "AwsSolutions-EC26",
                "The group's launch template (inside its mixed instances policy) encrypts every "
                "EBS volume; cdk-nag 3.0.2's EC26 reads only an ASG's LaunchTemplate property and "
                "throws on a MixedInstancesPolicy, so the project's tests check the template instead.",
            )
        elif self.min_capacity == self.max_capacity:
            acknowledge(
                self.group,
                "Annotation::@aws-cdk/aws-autoscaling:desiredCapacitySet",
                "A fixed-size group (min == max == desired): nothing else changes its size, so a "
                "deploy has nothing to reset.",
            )

    def _mixed_instances(self, spot: SpotMix) -> autoscaling.MixedInstancesPolicy:
        return autoscaling.MixedInstancesPolicy(
            launch_template=self.launch_template,
            launch_template_overrides=[
                autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(name))
                for name in spot.instance_types
            ],
            instances_distribution=autoscaling.InstancesDistribution(
                on_demand_base_capacity=spot.on_demand_base,
                on_demand_percentage_above_base_capacity=100 - spot.spot_percentage,
                on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
                spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
            ),
        )

    def scale_elastically(
        self,
        *,
        cpu_target_percent: int = 50,
        requests_per_target_per_minute: int = 1000,
        peak_utc: tuple[str, str] | None = None,
    ) -> None:
        """Target tracking on average CPU and on load balancer requests per target; with
        `peak_utc` ('HH:MM' start and end), weekday scheduled actions hold the group at its
        maximum through the peak and give the minimum back after it."""
        self.group.scale_on_cpu_utilization("CpuTarget", target_utilization_percent=cpu_target_percent)
        self.group.scale_on_request_count(
            "RequestsPerTarget", target_requests_per_minute=requests_per_target_per_minute
        )
        if peak_utc is None:
            return
        for action_id, at, min_capacity in (
            ("PeakStart", peak_utc[0], self.max_capacity),
            ("PeakEnd", peak_utc[1], self.min_capacity),
        ):
            hour, minute = at.split(":")
            self.group.scale_on_schedule(
                action_id,
                schedule=autoscaling.Schedule.cron(week_day="MON-FRI", hour=str(int(hour)), minute=str(int(minute))),
                min_capacity=min_capacity,
                time_zone="UTC",
            )

    @property
    def connections(self) -> ec2.Connections:
        return self.group.connections
