from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

# Valkey is the open-source (BSD) continuation of Redis OSS 7.2 that ElastiCache now leads
# with: same protocol and clients, lower node price than Redis OSS on ElastiCache.
ENGINE = "valkey"
ENGINE_VERSION = "8.0"
# Port, subnet group and at-rest encryption are create-only: changing any of them later
# would replace the group, so they are fixed from the first stage that has a cache.
DEFAULT_PORT = 6380


@jsii.implements(ec2.IConnectable)
class ReplicatedCache(Construct):
    """An ElastiCache for Valkey replication group (cluster mode disabled) in isolated
    subnets: a primary and `replicas_per_az` replicas per availability zone of `subnets`,
    Multi-AZ with automatic failover, TLS required in transit, encrypted at rest (with the
    AWS-managed key: the at-rest key is create-only, so changing it would replace the group),
    an AUTH token generated into Secrets Manager (JSON key `password`) and encrypted with
    `secret_key`, a non-default port, daily
    snapshots kept `snapshot_retention_days` and a final snapshot on removal. Nothing can
    reach it until a peer is allowed through `connections` (on the default port).

    :param vpc: The VPC of the group and its security group.
    :param subnets: The isolated subnets of the group's subnet group (create-only).
    :param node_type: The node type of every member, such as `cache.t4g.small`.
    :param secret_key: The customer-managed KMS key the AUTH token's secret is encrypted with.
    :param replicas_per_az: Replicas per availability zone of `subnets`, besides the primary; at least 1. Default: 1
    :param port: The port the group listens on (create-only). Default: 6380 (`DEFAULT_PORT`)
    :param snapshot_retention_days: Days a daily snapshot is kept. Default: 15
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        node_type: str,
        secret_key: kms.IKey,
        replicas_per_az: int = 1,
        port: int = DEFAULT_PORT,
        snapshot_retention_days: int = 15,
    ) -> None:
        super().__init__(scope, construct_id)
        if replicas_per_az < 1:
            raise ValueError("replicas_per_az must be at least 1 for automatic failover")
        selected = vpc.select_subnets(
            subnet_group_name=subnets.subnet_group_name, subnet_type=subnets.subnet_type, subnets=subnets.subnets
        )
        self.auth_secret = self._auth_token(secret_key)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Cache", allow_all_outbound=False
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description="Isolated data subnets of the cache",
            subnet_ids=selected.subnet_ids,
        )
        self.member_count = 1 + replicas_per_az * len(selected.availability_zones)
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="Cache-aside data and sessions of the app",
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            cache_node_type=node_type,
            # AZ placement is left to ElastiCache (it spreads a Multi-AZ group over the subnet
            # group's AZs): PreferredCacheClusterAZs is create-only, so pinning it would turn
            # every later change of the node count into a replacement of the group.
            num_cache_clusters=self.member_count,
            multi_az_enabled=True,
            automatic_failover_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            auth_token=self.auth_secret.secret_value_from_json("password").unsafe_unwrap(),
            port=port,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            snapshot_retention_limit=snapshot_retention_days,
            auto_minor_version_upgrade=True,
        )
        self.replication_group.apply_removal_policy(cdk.RemovalPolicy.SNAPSHOT)
        self._connections = ec2.Connections(security_groups=[self.security_group], default_port=ec2.Port.tcp(port))

    def _auth_token(self, key: kms.IKey) -> secretsmanager.Secret:
        """The AUTH token, generated into Secrets Manager, encrypted with `key` and kept when the group goes."""
        secret = secretsmanager.Secret(
            self,
            "AuthToken",
            description="AUTH token of the cache (JSON key 'password')",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",
                generate_string_key="password",
                # ElastiCache rejects '/', '"' and '@' in a token; letters and digits keep it simple.
                exclude_punctuation=True,
                password_length=64,
            ),
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "This AUTH token is not rotated: ElastiCache changes a token only through "
            "ModifyReplicationGroup (ROTATE, then SET), which no Secrets Manager rotation function "
            "drives here, and the service reads the token once at start. It never leaves Secrets "
            "Manager but for the app's hosts, and the group admits only their security groups, over TLS.",
        )
        return secret

    @property
    def connections(self) -> ec2.Connections:
        return self._connections

    @property
    def host(self) -> str:
        """The primary endpoint: it follows a failover, so the app never needs to."""
        return self.replication_group.attr_primary_end_point_address

    @property
    def port(self) -> str:
        return self.replication_group.attr_primary_end_point_port

    @property
    def member_cluster_ids(self) -> list[str]:
        """The node ids CloudWatch reports metrics under (`<group>-001`, `-002`, ...)."""
        return [f"{self.replication_group.ref}-{index:03d}" for index in range(1, self.member_count + 1)]
