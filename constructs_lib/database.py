from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import skip_check
from constructs_lib.database_users import DatabaseUserProvisioner

# MySQL 8.4 LTS, pinned to its major version only: RDS applies minor versions itself
# (auto_minor_version_upgrade), and a template naming "8.4" does not drift from the running
# instance when it does. 8.0 (out of standard support since 2026-07-31) stays selectable so
# a running 8.0 system can plan its in-place major version upgrade (see README).
ENGINE_VERSIONS = {
    "8.4": rds.MysqlEngineVersion.of("8.4", "8.4"),
    "8.0": rds.MysqlEngineVersion.VER_8_0_46,
}
DEFAULT_MYSQL_VERSION = "8.4"
# The slow-query log, written to a file that RDS exports to CloudWatch Logs: statements
# slower than a second are the first thing to look at when a stage runs out of room.
SLOW_QUERY_LOG = {"slow_query_log": "1", "long_query_time": "1", "log_output": "FILE"}
# A non-default port keeps scanners for 3306 off the database (AwsSolutions-RDS11); it is
# fixed from the first stage because changing it later restarts the database.
DEFAULT_PORT = 3307
MAX_READ_REPLICAS = 15
REPLICA_SINGLE_AZ_REASON = (
    "Each read replica is single-AZ by design: the replicas sit in different AZs, the "
    "app spreads reads over all of them, and the Multi-AZ primary holds the data."
)
REPLICA_ENCRYPTION_REASON = (
    "A replica of an encrypted source is always encrypted with the source's key; "
    "CloudFormation rejects StorageEncrypted beside SourceDBInstanceIdentifier, so the "
    "rule cannot see it."
)


def acknowledge_monitoring_role(instance: rds.DatabaseInstanceBase) -> None:
    """Acknowledge the AWS-managed policy of the enhanced monitoring role RDS makes for `instance`."""
    acknowledge(
        instance.node.find_child("MonitoringRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
        "AWS-maintained service-role policy that only lets RDS write OS metrics to the "
        "RDSOSMetrics log group; RDS Enhanced Monitoring documents it as the required policy.",
    )


@jsii.implements(ec2.IConnectable)
class HardenedMysql(Construct):
    """An RDS for MySQL instance (`mysql_version`, default 8.4 LTS) in isolated subnets:
    encrypted storage, TLS required, credentials generated into Secrets Manager and rotated,
    deletion protection, 14 days of backups, snapshot on removal, IAM auth, the slow-query
    log switched on, logs and enhanced monitoring exported. Major version upgrades are
    allowed, so a new `mysql_version` upgrades the instance in place.
    Reads `connections` to open the port to a peer; nothing else can reach it.

    Two secrets: `secret`, the master user's (single-user rotation; only the rotation and
    provisioning functions read it), and `app_secret`, the app's own user
    (`app_username`, created at deploy time with rights on `database_name` only). The app
    secret rotates multi-user: the rotation alternates between `app_username` and
    `<app_username>_clone`, and the user switched away from keeps working until the next
    rotation, so a host that re-reads the secret is never locked out. Both secrets are
    encrypted with `secret_key` (the rotation functions and every `grant_read` get its
    decrypt permission); the storage keeps the AWS-managed key aws/rds, since a storage
    key is create-only (changing it would replace the instance).

    :param vpc: The VPC of the instance, its rotation functions and the user provisioner.
    :param subnets: The isolated subnets of the instance and of those functions.
    :param instance_type: The instance class without its `db.` prefix, such as `t4g.micro`.
    :param multi_az: Whether a standby runs in a second availability zone.
    :param secret_key: The customer-managed KMS key the master and app secrets are encrypted with.
    :param single_az_reason: Why a single-AZ instance is acceptable; required when `multi_az` is False. Default:
        none
    :param allocated_storage_gib: Initial gp3 storage in GiB; storage autoscaling may grow it to five times as much.
        Default: 20
    :param database_name: The app database, created with the instance; the app user has rights on it alone. Default:
        app
    :param port: The port MySQL listens on (a change restarts the database). Default: 3307 (`DEFAULT_PORT`)
    :param backup_retention_days: Days automated backups are kept. Default: 14
    :param rotation_days: Days between rotations of the master secret and of the app secret. Default: 30
    :param secrets_manager_endpoint: The Secrets Manager interface endpoint the rotation and provisioning functions
        reach it through. Default: none, `subnets` need another route to Secrets Manager
    :param mysql_version: The MySQL major version, a key of `ENGINE_VERSIONS`. Default: 8.4
        (`DEFAULT_MYSQL_VERSION`)
    :param app_username: The app's own database user. Default: app
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        multi_az: bool,
        secret_key: kms.IKey,
        single_az_reason: str | None = None,
        allocated_storage_gib: int = 20,
        database_name: str = "app",
        port: int = DEFAULT_PORT,
        backup_retention_days: int = 14,
        rotation_days: int = 30,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
        mysql_version: str = DEFAULT_MYSQL_VERSION,
        app_username: str = "app",
    ) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseInstanceEngine.mysql(version=ENGINE_VERSIONS[mysql_version])
        # A new engine family replaces this parameter group (same logical id, new group);
        # the instance moves to it in place during its major version upgrade.
        self.parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            parameters={"require_secure_transport": "1", "binlog_format": "ROW", **SLOW_QUERY_LOG},
        )
        self.max_allocated_storage_gib = allocated_storage_gib * 5
        self.instance = self._instance(
            engine,
            mysql_version=mysql_version,
            vpc=vpc,
            subnets=subnets,
            instance_type=instance_type,
            multi_az=multi_az,
            allocated_storage_gib=allocated_storage_gib,
            database_name=database_name,
            port=port,
            backup_retention_days=backup_retention_days,
            secret_key=secret_key,
        )
        acknowledge_monitoring_role(self.instance)
        self.database_name = database_name
        self.port = port
        self.secret = self._retained_master_secret()
        self.instance.add_rotation_single_user(
            automatically_after=cdk.Duration.days(rotation_days),
            vpc_subnets=subnets,
            endpoint=secrets_manager_endpoint,
        )
        self.app_secret = self._app_user(
            app_username, subnets, secrets_manager_endpoint, cdk.Duration.days(rotation_days), secret_key
        )
        if not multi_az:
            self._acknowledge_single_az(single_az_reason)

    def _acknowledge_single_az(self, reason: str | None) -> None:
        if not reason:
            raise ValueError("a single-AZ database needs single_az_reason: say why it is acceptable")
        acknowledge(self.instance, "AwsSolutions-RDS3", reason)
        skip_check(self.instance, "CKV_AWS_157", reason)

    def _instance(
        self,
        engine: rds.IInstanceEngine,
        *,
        mysql_version: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        multi_az: bool,
        allocated_storage_gib: int,
        database_name: str,
        port: int,
        backup_retention_days: int,
        secret_key: kms.IKey,
    ) -> rds.DatabaseInstance:
        instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            multi_az=multi_az,
            port=port,
            database_name=database_name,
            credentials=rds.Credentials.from_generated_secret("admin", encryption_key=secret_key),
            parameter_group=self.parameters,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=self.max_allocated_storage_gib,
            iam_authentication=True,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
            delete_automated_backups=False,
            backup_retention=cdk.Duration.days(backup_retention_days),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=True,
            cloudwatch_logs_exports=["error", "general", "slowquery"],
            monitoring_interval=cdk.Duration.seconds(60),
            publicly_accessible=False,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        if mysql_version == ENGINE_VERSIONS[mysql_version].mysql_full_version:
            # EngineVersion names a major version on purpose: RDS picks that major's current minor
            # and upgrades minors itself (AutoMinorVersionUpgrade). cfn-lint's enumeration (E3691)
            # lists only full versions; this resource alone is exempt from it.
            cfn_instance = instance.node.default_child
            assert isinstance(cfn_instance, rds.CfnDBInstance)
            cfn_instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3691"]}})
        return instance

    def _retained_master_secret(self) -> secretsmanager.ISecret:
        """The master user's secret, kept when the instance goes: a final snapshot restored
        without it needs a password reset before anything can connect."""
        secret = self.instance.secret
        assert secret is not None, "a generated credential always makes a secret"
        # `instance.secret` is the attachment; the generated secret itself is the child.
        generated = self.instance.node.find_child("Secret")
        assert isinstance(generated, secretsmanager.Secret)
        generated.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return secret

    def _app_user(
        self,
        username: str,
        subnets: ec2.SubnetSelection,
        endpoint: ec2.IInterfaceVpcEndpoint | None,
        rotation_interval: cdk.Duration,
        secret_key: kms.IKey,
    ) -> secretsmanager.ISecret:
        """The app user's secret (with `masterarn`, which multi-user rotation signs in
        with), the deploy-time user it describes, and its rotation, which may only start
        once the user exists."""
        assert self.secret is not None
        app_secret = rds.DatabaseSecret(
            self,
            "AppSecret",
            username=username,
            dbname=self.database_name,
            master_secret=self.secret,
            encryption_key=secret_key,
        )
        app_secret.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        attached = app_secret.attach(self.instance)
        provisioner = DatabaseUserProvisioner.of(
            self, vpc=self.instance.vpc, subnets=subnets, secrets_manager_endpoint=endpoint
        )
        user = provisioner.create_app_user(
            self,
            "AppUser",
            instance=self.instance,
            master_secret=self.secret,
            app_secret=attached,
            database_name=self.database_name,
        )
        rotation = self.instance.add_rotation_multi_user(
            "AppUserRotation",
            secret=attached,
            automatically_after=rotation_interval,
            vpc_subnets=subnets,
            endpoint=endpoint,
        )
        rotation.node.add_dependency(user)
        return attached

    @property
    def connections(self) -> ec2.Connections:
        return self.instance.connections


@jsii.implements(ec2.IConnectable)
class ReadReplicas(Construct):
    """`count` MySQL read replicas of `source`, children `Replica1`..`ReplicaN` (so adding
    one never renames the others), spread round-robin over `availability_zones`, with the
    source's engine, class, port, parameters (TLS required), IAM auth, encryption (inherited
    from the source), storage autoscaling up to the source's maximum, log exports and enhanced
    monitoring, behind one shared security group. A replica holds only
    a copy of the source's data, so it is deleted (not snapshotted) when a lower stage or a
    smaller count removes it; the source keeps every backup.

    :param source: The database to replicate: engine, port, parameters and storage limit come from it.
    :param count: How many replicas, 1 to `MAX_READ_REPLICAS` (15).
    :param vpc: The VPC of the replicas and their security group.
    :param subnets: The isolated subnets of the replicas.
    :param availability_zones: The zones the replicas are spread over, round-robin.
    :param instance_type: The instance class of every replica, without its `db.` prefix.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: HardenedMysql,
        count: int,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        availability_zones: list[str],
        instance_type: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= count <= MAX_READ_REPLICAS:
            raise ValueError(f"RDS for MySQL allows 1 to {MAX_READ_REPLICAS} read replicas per source, got {count}")
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="MySQL read replicas", allow_all_outbound=False
        )
        self.replicas = [
            self._replica(
                f"Replica{index + 1}",
                source=source,
                vpc=vpc,
                subnets=subnets,
                availability_zone=availability_zones[index % len(availability_zones)],
                instance_type=instance_type,
            )
            for index in range(count)
        ]
        acknowledge(self, "AwsSolutions-RDS3", REPLICA_SINGLE_AZ_REASON)
        acknowledge(self, "AwsSolutions-RDS2", REPLICA_ENCRYPTION_REASON)
        acknowledge(
            self,
            "AwsSolutions-RDS11",
            "Each replica listens on the source's non-default port, set explicitly; a replica "
            "inherits its engine, and the rule flags every instance that does not name one.",
        )
        acknowledge(
            self,
            "AwsSolutions-RDS10",
            "A read replica holds only a copy of the primary's data; deletion protection would "
            "block lowering the replica count or the stage, and the primary keeps deletion "
            "protection and backups.",
        )
        self._connections = ec2.Connections(
            security_groups=[self.security_group], default_port=ec2.Port.tcp(source.port)
        )

    def _replica(
        self,
        construct_id: str,
        *,
        source: HardenedMysql,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        availability_zone: str,
        instance_type: str,
    ) -> rds.DatabaseInstanceReadReplica:
        replica = rds.DatabaseInstanceReadReplica(
            self,
            construct_id,
            source_database_instance=source.instance,
            instance_type=ec2.InstanceType(instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            availability_zone=availability_zone,
            security_groups=[self.security_group],
            port=source.port,
            parameter_group=source.parameters,
            storage_type=rds.StorageType.GP3,
            # A replica holds everything the source does, so it must grow as far.
            max_allocated_storage=source.max_allocated_storage_gib,
            iam_authentication=True,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["error", "slowquery"],
            monitoring_interval=cdk.Duration.seconds(60),
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            deletion_protection=False,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge_monitoring_role(replica)
        skip_check(replica, "CKV_AWS_157", REPLICA_SINGLE_AZ_REASON)
        skip_check(replica, "CKV_AWS_16", REPLICA_ENCRYPTION_REASON)
        return replica

    @property
    def connections(self) -> ec2.Connections:
        return self._connections
