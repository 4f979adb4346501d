from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib.database import DEFAULT_MYSQL_VERSION, DEFAULT_PORT, HardenedMysql
from service.shardmap import DEFAULT_LOGICAL_BUCKETS, build_shard_map, rebalance


def grown_shard_map(shards: list[dict[str, Any]], active: int, logical_buckets: int) -> dict[str, Any]:
    """The map reached by adding the first `active` shards one at a time, each step moving
    the fewest buckets (`rebalance`). So growing from N to M active shards moves buckets
    only from old shards to new ones, and the map for a count is the same however it was
    reached. Shards beyond `active` are listed but own no buckets yet."""
    shard_map = build_shard_map(shards[:1], logical_buckets)
    for count in range(2, active + 1):
        shard_map = rebalance(shard_map, shards[:count])
    shard_map["shards"] = [dict(shard) for shard in shards]
    return shard_map


class MysqlShards(Construct):
    """`count` MySQL shard instances, `Shard0`..`Shard<count-1>` (each a HardenedMysql:
    Multi-AZ, encrypted, its own rotated secrets under `secret_key`), and the shard map published as an SSM
    String parameter named `parameter_name`: a user id hashes to one of
    `logical_buckets` fixed buckets, and bucket ranges are assigned to the first
    `active` shards (see `grown_shard_map`). Raising `count` only adds instances.

    :param count: Shard instances; raising it only adds instances.
    :param active: How many of them own buckets, 1 to `count`.
    :param vpc: The VPC of the shards.
    :param subnets: The isolated subnets of the shards.
    :param instance_type: The instance class of every shard, without its `db.` prefix.
    :param allocated_storage_gib: Initial storage of each shard in GiB.
    :param parameter_name: Name of the SSM parameter the shard map is published under.
    :param secret_key: The customer-managed KMS key every shard's master and app secrets are encrypted with.
    :param secrets_manager_endpoint: The Secrets Manager interface endpoint the shards' functions reach it through.
        Default: none
    :param logical_buckets: How many fixed buckets user ids hash to. Default: 1024 (`DEFAULT_LOGICAL_BUCKETS`)
    :param mysql_version: The MySQL major version of every shard. Default: 8.4 (`DEFAULT_MYSQL_VERSION`)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        count: int,
        active: int,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        allocated_storage_gib: int,
        parameter_name: str,
        secret_key: kms.IKey,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
        logical_buckets: int = DEFAULT_LOGICAL_BUCKETS,
        mysql_version: str = DEFAULT_MYSQL_VERSION,
    ) -> None:
        super().__init__(scope, construct_id)
        if count < 1:
            raise ValueError(f"shards: {count} is not allowed; a sharded database needs at least one shard")
        if not 1 <= active <= count:
            raise ValueError(f"active shards: {active} is not allowed; expected 1 to {count}")
        self.shards = [
            HardenedMysql(
                self,
                f"Shard{index}",
                vpc=vpc,
                subnets=subnets,
                instance_type=instance_type,
                multi_az=True,
                secret_key=secret_key,
                allocated_storage_gib=allocated_storage_gib,
                port=DEFAULT_PORT,
                secrets_manager_endpoint=secrets_manager_endpoint,
                mysql_version=mysql_version,
            )
            for index in range(count)
        ]
        entries: list[dict[str, Any]] = []
        for index, shard in enumerate(self.shards):
            entries.append(
                {
                    "id": f"shard-{index}",
                    "host": shard.instance.db_instance_endpoint_address,
                    "port": DEFAULT_PORT,
                    "secret_arn": shard.app_secret.secret_arn,
                }
            )
        self.shard_map = grown_shard_map(entries, active, logical_buckets)
        self.parameter = ssm.StringParameter(
            self,
            "ShardMap",
            parameter_name=parameter_name,
            description="Shard map: logical buckets of user ids to MySQL shards (format in service/shardmap.py)",
            string_value=cdk.Stack.of(self).to_json_string(self.shard_map),
            # Sixteen shards' hosts and secret ARNs can pass the 4 KB standard limit.
            tier=ssm.ParameterTier.INTELLIGENT_TIERING,
        )
