from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.cache import ReplicatedCache
from constructs_lib.data_key import DataKey
from scaling_stacks.config import StageConfig
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.stack_props import StackProps


class CacheStack(cdk.Stack):
    """The cache layer (stage 3+): a Multi-AZ Valkey replication group in the data subnets
    for cache-aside reads and sessions. Deployed before compute, which opens the port to
    the app tier (so the rule lives in compute and no reference points back here)."""

    # The replication group as a peer to open its port to.
    cache: ec2.IConnectable
    # The primary endpoint (it follows a failover) and its port.
    host: str
    port: str
    auth_secret: secretsmanager.ISecret
    # The node ids CloudWatch reports metrics under.
    node_ids: list[str]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cache = ReplicatedCache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.data_subnets,
            node_type=config.cache_node_type,
            secret_key=DataKey.imported(self, network.data_key),
        )
        self.cache = cache
        self.host = cache.host
        self.port = cache.port
        self.auth_secret = cache.auth_secret
        self.node_ids = cache.member_cluster_ids
