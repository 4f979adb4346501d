"""What a host of the service needs, wherever it runs (the box, the app tier, an ECS
task): the environment it reads (service/config.py defines the names) and the network
paths and IAM grants to reach what that environment points at. One place, so the EC2
and the container deployments cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from constructs_lib.acknowledge import acknowledge
from constructs_lib.data_key import acknowledge_key_grants, grant_secret_read
from constructs_lib.telemetry import service_environment
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack

MEDIA_PREFIX = "media/"
# RDS requires TLS (require_secure_transport); hosts and the container image keep the RDS
# CA bundle here (constructs_lib/user_data.py, service/Dockerfile).
RDS_CA_FILE = "/etc/ssl/rds-global-bundle.pem"


@dataclass(frozen=True, kw_only=True)
class ServiceDependencies:
    """The stacks whose resources the service uses at this stage."""

    config: StageConfig
    data: DataStack
    cache: CacheStack | None = None
    async_layer: AsyncStack | None = None

    def environment(self, region: str) -> dict[str, str]:
        """Environment variables the service reads: endpoints and secret ARNs, never secrets."""
        data = self.data
        primary = data.primary
        variables = {
            "APP_STAGE": str(self.config.stage),
            "AWS_REGION": region,
            "DB_WRITER_HOST": primary.instance.db_instance_endpoint_address,
            "DB_PORT": str(primary.port),
            "DB_NAME": primary.database_name,
            "DB_SECRET_ARN": primary.app_secret.secret_arn,
            "DB_TLS_CA_FILE": RDS_CA_FILE,
        }
        if self.config.has_edge:
            # Viewers reach the service only through CloudFront, which redirects HTTP to HTTPS.
            variables["SESSION_COOKIE_SECURE"] = "true"
        if data.replica_instances:
            variables["DB_READER_HOST"] = cdk.Fn.join(
                ",", [replica.db_instance_endpoint_address for replica in data.replica_instances]
            )
        if self.cache is not None:
            variables.update(
                CACHE_HOST=self.cache.host,
                CACHE_PORT=self.cache.port,
                CACHE_TLS="true",
                CACHE_AUTH_SECRET_ARN=self.cache.auth_secret.secret_arn,
            )
        if data.shard_map is not None:
            variables["SHARD_MAP_PARAMETER"] = data.shard_map.parameter_name
        if data.table_name is not None:
            variables["POSTS_TABLE"] = data.table_name
        if data.media_bucket is not None:
            variables["MEDIA_BUCKET"] = data.media_bucket.bucket_name
        if self.async_layer is not None:
            variables["QUEUE_URL"] = self.async_layer.post_queue.queue_url
            if self.async_layer.events_topic_arn is not None:
                variables["EVENTS_TOPIC_ARN"] = self.async_layer.events_topic_arn
            if self.async_layer.activity_stream_name is not None:
                variables["ACTIVITY_STREAM"] = self.async_layer.activity_stream_name
        if self.config.has_tracing:
            variables.update(service_environment(self.config.app_name))
        return variables

    def grant(self, host: ec2.IConnectable, role: iam.IRole, *, label: str) -> None:
        """Open the network paths and grant the reads and writes `environment()` implies:
        the monolith's hosts need all of it. Called from the host's stack, so every ingress
        rule lands there and no data-layer stack ever depends on a compute stack."""
        self.grant_user_data(host, role, label=label)
        self.grant_post_data(role)

    def grant_user_data(self, host: ec2.IConnectable, role: iam.IRole, *, label: str) -> None:
        """The relational side: the user directory, its replicas, the cache and the shards."""
        data = self.data
        host.connections.allow_to_default_port(data.primary.instance, f"{label} to the primary database")
        grant_secret_read(data.primary.app_secret, role)
        if data.replicas is not None:
            host.connections.allow_to_default_port(data.replicas, f"{label} to the read replicas")
        if self.cache is not None:
            host.connections.allow_to_default_port(self.cache.cache, f"{label} to the cache")
            grant_secret_read(self.cache.auth_secret, role)
        if data.shard_map is not None:
            data.shard_map.grant_read(role)
        for shard in data.shards:
            host.connections.allow_to_default_port(shard.instance, f"{label} to {shard.name}")
            grant_secret_read(shard.app_secret, role)

    def grant_post_data(self, role: iam.IRole) -> None:
        """The stage-5 side: the posts table, media uploads and the events posts produce."""
        data = self.data
        if data.table is not None:
            data.table.grant_read_write(role)
        if data.media_bucket_parameter_name is not None:
            self._grant_media_uploads(role, data.media_bucket_parameter_name)
        if self.async_layer is not None:
            self.async_layer.post_queue.grant_send_messages(role)
            acknowledge_key_grants(role)
            if self.async_layer.events is not None:
                self.async_layer.events.grant_publish(role)
            if self.async_layer.activity is not None:
                self.async_layer.activity.grant_put(role)

    @staticmethod
    def _grant_media_uploads(role: iam.IRole, parameter_name: str) -> None:
        # Upload URLs are signed with the host's credentials, which must allow the PUT.
        # The bucket name comes in as an SSM-typed stack parameter rather than a
        # cross-stack reference, so the grant's resource (and the finding acknowledged
        # below) names a logical id of this stack.
        stack = cdk.Stack.of(role)
        bucket = cdk.CfnParameter(
            stack,
            "MediaBucketName",
            type="AWS::SSM::Parameter::Value<String>",
            default=parameter_name,
            description="SSM parameter holding the media bucket's name (written by the data stack)",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{bucket.value_as_string}/{MEDIA_PREFIX}*"],
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{stack.get_logical_id(bucket)}>/{MEDIA_PREFIX}*]",
            "Upload URLs are for new objects whose keys are generated per upload, so PutObject is "
            "granted on the media/ prefix of the media bucket and nowhere else.",
        )
