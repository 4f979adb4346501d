from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.alarm_topic import AlarmTopic
from constructs_lib.buckets import LogArchiveBucket
from constructs_lib.data_key import DataKey
from constructs_lib.network import StagedVpc
from scaling_stacks.config import StageConfig
from scaling_stacks.stack_props import APP_TAG, StackProps


class NetworkStack(cdk.Stack):
    """The foundation every layer shares, deployed first: the VPC and its endpoints, the
    log archive bucket, the alarm topic and the data key, which encrypts the secrets, the
    table, the queues and the service's log groups of every later stack."""

    vpc: ec2.IVpc
    public_subnets: ec2.SubnetSelection
    app_subnets: ec2.SubnetSelection
    data_subnets: ec2.SubnetSelection
    logs: s3.IBucket
    alarms: sns.ITopic
    secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint
    # Other stacks import it by ARN (DataKey.imported) to encrypt with it and grant its use.
    data_key: kms.IKey

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Unpack[StackProps]
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        app_stacks = f"{config.stack_prefix}-*"
        self.data_key = DataKey(
            self,
            "DataKey",
            alias_name=f"{config.app_name}/data",
            description=f"Encrypts {config.app_name}'s secrets, table, queues and service logs",
            # Log groups and topics without a fixed name are named after their stack.
            log_group_names=[app_stacks],
            app_tag=(APP_TAG, config.stack_prefix),
            sns_topic_names=[app_stacks] if config.has_microservices else (),
        ).key
        self.logs = LogArchiveBucket(self, "LogArchive").bucket
        network = StagedVpc(
            self, "Network", nat_gateways=config.nat_gateways if config.has_nat else 0, flow_log_bucket=self.logs
        )
        self.vpc = network.vpc
        self.public_subnets = network.public_subnets
        self.app_subnets = network.app_subnets
        self.data_subnets = network.data_subnets
        self.alarms = AlarmTopic(self, "Alarms", email=config.alarm_email).topic
        endpoint_security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, description="AWS API endpoints", allow_all_outbound=False
        )
        endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(network.cidr), ec2.Port.HTTPS, "HTTPS to AWS APIs from inside the VPC"
        )
        # Secret rotation runs in the isolated data subnets, which reach AWS APIs only
        # through endpoints; without this the rotation Lambda times out.
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.data_subnets,
            private_dns_enabled=True,
            open=False,
            security_groups=[endpoint_security_group],
        )
