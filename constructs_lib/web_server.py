from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.instance_defaults import (
    DEEP_HEALTH_URL,
    HEALTHY_WITHIN,
    HOST_READY_TIMEOUT,
    amazon_linux,
    encrypted_root_volume,
    session_manager_role,
)
from constructs_lib.user_data import add_health_gate


class SingleWebServer(Construct):
    """One EC2 web/app server with a fixed Elastic IP: IMDSv2 only, encrypted gp3 root
    volume, detailed monitoring, reached by SSM Session Manager (no SSH key, no port 22),
    and a security group that opens only the given ports to the given peers. It boots the
    Amazon Linux 2023 release `image_name`. A change of its user data (or image) replaces
    it: CloudFormation creates the new instance first and waits until it signals that
    `health_check_url` (default: the service's deep health check) answered, then moves the
    Elastic IP to it and deletes the old one; a new instance that fails makes the deploy
    roll back with the old one still serving. `user_data` must be complete: the health
    gate is appended last.

    :param vpc: The VPC of the instance.
    :param subnets: The public subnets of the instance (it is reached through its Elastic IP).
    :param instance_type: The instance type.
    :param user_data: The complete boot script; the health gate is appended to it.
    :param image_name: The Amazon Linux 2023 release the instance boots.
    :param ingress: (peer, port) pairs its security group admits.
    :param health_check_url: What the new instance polls before it signals success. Default:
        http://127.0.0.1/health/deep (`DEEP_HEALTH_URL`)
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
        ingress: Sequence[tuple[ec2.IPeer, ec2.Port]],
        health_check_url: str = DEEP_HEALTH_URL,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Single web server", allow_all_outbound=False
        )
        for peer, port in ingress:
            self.security_group.add_ingress_rule(peer, port, f"web traffic on {port.to_string()}")
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.HTTPS, "AWS APIs (SSM, Secrets Manager, S3) and package repositories"
        )
        self.role = session_manager_role(self, "Role")
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(instance_type),
            machine_image=amazon_linux(instance_type, image_name=image_name),
            security_group=self.security_group,
            role=self.role,
            user_data=user_data,
            user_data_causes_replacement=True,
            resource_signal_timeout=HOST_READY_TIMEOUT,
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[encrypted_root_volume()],
            associate_public_ip_address=False,
        )
        add_health_gate(user_data, resource=self.instance, url=health_check_url, within=HEALTHY_WITHIN)
        self.elastic_ip = ec2.CfnEIP(self, "ElasticIp", domain="vpc", instance_id=self.instance.instance_id)
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "The single box is stateless (data lives in RDS) and is deliberately removed when "
            "the app moves to Auto Scaling groups at stage 2; termination protection would "
            "block that planned upgrade.",
        )

    @property
    def connections(self) -> ec2.Connections:
        return self.instance.connections

    @property
    def public_ip(self) -> str:
        return self.elastic_ip.ref
