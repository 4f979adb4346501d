from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from constructs_lib.database import HardenedMysql
from scaling_stacks.config import StageConfig
from scaling_stacks.network_stack import NetworkStack


class DataStack(cdk.Stack):
    """Relational data: the primary MySQL database (and, at later stages, its replicas and shards)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, network: NetworkStack, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.primary = HardenedMysql(
            self,
            "Primary",
            vpc=network.vpc,
            subnets=network.network.data_subnets,
            instance_type=config.db_instance_type,
            multi_az=config.db_multi_az,
            single_az_reason=(
                f"Stage {config.stage} ({config.stage_name}) is the deliberately minimal single-box "
                "architecture; the same instance becomes Multi-AZ in place at stage 2."
            ),
            allocated_storage_gib=config.db_allocated_storage_gib,
            secrets_manager_endpoint=network.secrets_manager_endpoint,
        )
