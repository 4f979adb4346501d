from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
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


@dataclass(frozen=True, kw_only=True)
class MysqlEndpoint:
    """What a client of one MySQL instance needs: its construct id (`name`), the instance
    (to connect to, on its default port), the app user's secret, the port and the app
    database's name."""

    name: str
    instance: rds.IDatabaseInstance
    app_secret: secretsmanager.ISecret
    port: int
    database_name: str

    @classmethod
    def of(cls, database: HardenedMysql) -> MysqlEndpoint:
        return cls(
            name=database.node.id,
            instance=database.instance,
            app_secret=database.app_secret,
            port=database.port,
            database_name=database.database_name,
        )


class DataStack(cdk.Stack):
    """Relational data: the primary MySQL database (and, at later stages, its replicas and
    shards); from stage 5 also the DynamoDB table and the user media bucket. The primary
    keeps the user directory (users, sign-in) when user-owned data moves to the shards."""

    primary: MysqlEndpoint
    # The read replicas as one peer (they share a security group), and each instance.
    replicas: ec2.IConnectable | None
    replica_instances: list[rds.IDatabaseInstance]
    shards: list[MysqlEndpoint]
    shard_map: ssm.IStringParameter | None
    # Grants on it go through AppTable, which adds the use of its key.
    table: AppTable | None
    table_name: str | None
    media_bucket: s3.IBucket | None
    # A plain string, not a token: consumers resolve it at deploy time.
    media_bucket_parameter_name: str | None

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
        self._config = config
        self._network = network
        self._data_key = DataKey.imported(self, network.data_key)
        primary = self._add_primary()
        self.primary = MysqlEndpoint.of(primary)
        replicas = self._add_replicas(primary) if config.read_replicas else None
        self.replicas = replicas
        self.replica_instances = list(replicas.replicas) if replicas else []
        shards = self._add_shards() if config.shards else None
        self.shards = [MysqlEndpoint.of(shard) for shard in shards.shards] if shards else []
        self.shard_map = shards.parameter if shards else None
        self.table = None
        self.table_name = None
        self.media_bucket = None
        self.media_bucket_parameter_name = None
        if config.has_async:
            self.table = AppTable(
                self,
                "AppTable",
                key=self._data_key,
                provisioned=None if config.dynamodb_on_demand else PROVISIONED_CAPACITY,
            )
            self.table_name = self.table.table.table_name
            self.media_bucket_parameter_name = f"/{config.app_name}/media-bucket"
            self.media_bucket = self._add_media_bucket(self.media_bucket_parameter_name)

    def _add_primary(self) -> HardenedMysql:
        config = self._config
        network = self._network
        return HardenedMysql(
            self,
            "Primary",
            vpc=network.vpc,
            subnets=network.data_subnets,
            instance_type=config.db_instance_type,
            multi_az=config.db_multi_az,
            single_az_reason=(
                f"Stage {config.stage} ({config.stage_name}) is the deliberately minimal single-box "
                "architecture; the same instance becomes Multi-AZ in place at stage 2."
            ),
            allocated_storage_gib=config.db_allocated_storage_gib,
            secret_key=self._data_key,
            secrets_manager_endpoint=network.secrets_manager_endpoint,
            mysql_version=config.mysql_version,
        )

    def _add_replicas(self, primary: HardenedMysql) -> ReadReplicas:
        network = self._network
        return ReadReplicas(
            self,
            "Replicas",
            source=primary,
            count=self._config.read_replicas,
            vpc=network.vpc,
            subnets=network.data_subnets,
            availability_zones=network.vpc.availability_zones,
            instance_type=self._config.db_instance_type,
        )

    def _add_shards(self) -> MysqlShards:
        config = self._config
        network = self._network
        return MysqlShards(
            self,
            "Shards",
            count=config.shards,
            active=config.active_shards,
            vpc=network.vpc,
            subnets=network.data_subnets,
            instance_type=config.db_instance_type,
            allocated_storage_gib=config.db_allocated_storage_gib,
            parameter_name=f"/{config.app_name}/shard-map",
            secret_key=self._data_key,
            secrets_manager_endpoint=network.secrets_manager_endpoint,
            mysql_version=config.mysql_version,
        )

    def _add_media_bucket(self, parameter_name: str) -> s3.IBucket:
        """The user media bucket and the SSM parameter that publishes its name."""
        media = SecureBucket(
            self,
            "MediaBucket",
            log_bucket=self._network.logs,
            log_prefix="s3/media/",
            intelligent_tiering=True,
            cors=[media_upload_cors(self._config)],
        )
        ssm.StringParameter(
            self,
            "MediaBucketName",
            parameter_name=parameter_name,
            description="Bucket for user media uploads",
            string_value=media.bucket.bucket_name,
        )
        return media.bucket
