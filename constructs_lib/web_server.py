from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.instance_defaults import amazon_linux, encrypted_root_volume, session_manager_role


class SingleWebServer(Construct):
    """One EC2 web/app server with a fixed Elastic IP: IMDSv2 only, encrypted gp3 root
    volume, detailed monitoring, reached by SSM Session Manager (no SSH key, no port 22),
    and a security group that opens only the given ports to the given peers.
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
        ingress: Sequence[tuple[ec2.IPeer, ec2.Port]],
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
            machine_image=amazon_linux(instance_type),
            security_group=self.security_group,
            role=self.role,
            user_data=user_data,
            user_data_causes_replacement=True,
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[encrypted_root_volume()],
            associate_public_ip_address=False,
        )
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
