from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib.instance_defaults import amazon_linux, encrypted_root_volume, session_manager_role


class ServiceTier(Construct):
    """One tier of hosts: an Auto Scaling group from a launch template (IMDSv2 only,
    encrypted gp3 root volume, detailed monitoring, SSM Session Manager and no SSH key),
    spread evenly over the given subnets' AZs, replaced when its load balancer says a
    host is unhealthy, and rolled by instance refresh when the template changes.
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
        min_capacity: int,
        max_capacity: int,
        desired_capacity: int,
        notifications: list[autoscaling.NotificationConfiguration] | None = None,
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
            machine_image=amazon_linux(instance_type),
            user_data=user_data,
            role=self.role,
            security_group=self.security_group,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            detailed_monitoring=True,
            block_devices=[encrypted_root_volume()],
        )
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=self.launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            desired_capacity=desired_capacity,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=cdk.Duration.minutes(5)
            ),
            az_capacity_distribution_strategy=autoscaling.CapacityDistributionStrategy.BALANCED_BEST_EFFORT,
            group_metrics=[autoscaling.GroupMetrics.all()],
            notifications=notifications,
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                min_instances_in_service=min_capacity, max_batch_size=1, pause_time=cdk.Duration.minutes(5)
            ),
            default_instance_warmup=cdk.Duration.minutes(3),
        )

    @property
    def connections(self) -> ec2.Connections:
        return self.group.connections
