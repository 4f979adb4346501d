from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib.app_table import AppTable
from constructs_lib.buckets import SecureBucket
from constructs_lib.data_key import DataKey
from constructs_lib.database import HardenedMysql, ReadReplicas
from constructs_lib.mysql_shards import MysqlShards
from scaling_stacks.config import StageConfig
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.stack_props import StackProps

# Read and write capacity units, (minimum, maximum), when dynamodb_capacity is 'provisioned'.
PROVISIONED_CAPACITY = (5, 500)


def media_upload_cors(config: StageConfig) -> s3.CorsRule:
    """Browsers POST presigned uploads (service/aws.py) straight to the media bucket: from
    the site's own origin when it has a domain, else from any (the CloudFront name is not
    known to this stack). The signed policy, not the origin, authorizes an upload."""
    return s3.CorsRule(
        allowed_methods=[s3.HttpMethods.POST],
        allowed_origins=[f"https://{config.domain_name}"] if config.domain_name else ["*"],
        allowed_headers=["*"],
        exposed_headers=["ETag", "Location"],
        max_age=3000,
    )


class DataStack(cdk.Stack):
    """Relational data: the primary MySQL database (and, at later stages, its replicas and
    shards); from stage 5 also the DynamoDB table and the user media bucket. The primary
    keeps the user directory (users, sign-in) when user-owned data moves to the shards."""

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
        data_key = DataKey.imported(self, network.data_key)
        self.primary = HardenedMysql(
            self,
            "Primary",
            vpc=network.vpc,
            subnets=network.network.data_subnets,
            instance_type=config.db_instance_type,
            multi_az=config.db_multi_az,
            secret_key=data_key,
            single_az_reason=(
                f"Stage {config.stage} ({config.stage_name}) is the deliberately minimal single-box "
                "architecture; the same instance becomes Multi-AZ in place at stage 2."
            ),
            allocated_storage_gib=config.db_allocated_storage_gib,
            secrets_manager_endpoint=network.secrets_manager_endpoint,
            mysql_version=config.mysql_version,
        )
        self.replicas: ReadReplicas | None = None
        if config.read_replicas:
            self.replicas = ReadReplicas(
                self,
                "Replicas",
                source=self.primary,
                count=config.read_replicas,
                vpc=network.vpc,
                subnets=network.network.data_subnets,
                availability_zones=network.vpc.availability_zones,
                instance_type=config.db_instance_type,
            )
        self.shards: MysqlShards | None = None
        self.table: AppTable | None = None
        self.media: SecureBucket | None = None
        if config.shards:
            self.shards = MysqlShards(
                self,
                "Shards",
                count=config.shards,
                active=config.active_shards,
                vpc=network.vpc,
                subnets=network.network.data_subnets,
                instance_type=config.db_instance_type,
                allocated_storage_gib=config.db_allocated_storage_gib,
                parameter_name=f"/{config.app_name}/shard-map",
                secret_key=data_key,
                secrets_manager_endpoint=network.secrets_manager_endpoint,
                mysql_version=config.mysql_version,
            )
        if config.has_async:
            self.table = AppTable(
                self, "AppTable", key=data_key, provisioned=None if config.dynamodb_on_demand else PROVISIONED_CAPACITY
            )
            self.media = SecureBucket(
                self,
                "MediaBucket",
                log_bucket=network.logs,
                log_prefix="s3/media/",
                intelligent_tiering=True,
                cors=[media_upload_cors(config)],
            )
            # A plain string, not a token: consumers resolve it at deploy time.
            self.media_bucket_parameter_name = f"/{config.app_name}/media-bucket"
            ssm.StringParameter(
                self,
                "MediaBucketName",
                parameter_name=self.media_bucket_parameter_name,
                description="Bucket for user media uploads",
                string_value=self.media.bucket.bucket_name,
            )
