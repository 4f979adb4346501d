from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
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
        self.cache = ReplicatedCache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.network.data_subnets,
            node_type=config.cache_node_type,
            secret_key=DataKey.imported(self, network.data_key),
        )
