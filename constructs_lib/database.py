from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

ENGINE_VERSION = rds.MysqlEngineVersion.VER_8_0_46
# A non-default port keeps scanners for 3306 off the database (AwsSolutions-RDS11); it is
# fixed from the first stage because changing it later restarts the database.
DEFAULT_PORT = 3307
MAX_READ_REPLICAS = 15


@jsii.implements(ec2.IConnectable)
class HardenedMysql(Construct):
    """An RDS for MySQL 8.0 instance in isolated subnets: encrypted storage, TLS required,
    credentials generated into Secrets Manager and rotated, deletion protection, 14 days
    of backups, snapshot on removal, IAM auth, logs and enhanced monitoring exported.
    Reads `connections` to open the port to a peer; nothing else can reach it.
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
        single_az_reason: str | None = None,
        allocated_storage_gib: int = 20,
        database_name: str = "app",
        port: int = DEFAULT_PORT,
        backup_retention_days: int = 14,
        rotation_days: int = 30,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.parameters = parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=rds.DatabaseInstanceEngine.mysql(version=ENGINE_VERSION),
            parameters={"require_secure_transport": "ON", "binlog_format": "ROW"},
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=rds.DatabaseInstanceEngine.mysql(version=ENGINE_VERSION),
            instance_type=ec2.InstanceType(instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            multi_az=multi_az,
            port=port,
            database_name=database_name,
            credentials=rds.Credentials.from_generated_secret("admin"),
            parameter_group=parameters,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=allocated_storage_gib * 5,
            iam_authentication=True,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
            delete_automated_backups=False,
            backup_retention=cdk.Duration.days(backup_retention_days),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["error", "general", "slowquery"],
            monitoring_interval=cdk.Duration.seconds(60),
            publicly_accessible=False,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        monitoring_role = self.instance.node.find_child("MonitoringRole")
        acknowledge(
            monitoring_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
            "AWS-maintained service-role policy that only lets RDS write OS metrics to the "
            "RDSOSMetrics log group; RDS Enhanced Monitoring documents it as the required policy.",
        )
        self.database_name = database_name
        self.port = port
        secret = self.instance.secret
        assert secret is not None, "a generated credential always makes a secret"
        self.secret: secretsmanager.ISecret = secret
        # The credentials outlive the instance: a final snapshot restored without them
        # needs a password reset before anything can connect.
        # `instance.secret` is the attachment; the generated secret itself is the child.
        generated = self.instance.node.find_child("Secret")
        assert isinstance(generated, secretsmanager.Secret)
        generated.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.instance.add_rotation_single_user(
            automatically_after=cdk.Duration.days(rotation_days),
            vpc_subnets=subnets,
            endpoint=secrets_manager_endpoint,
        )
        if not multi_az:
            if not single_az_reason:
                raise ValueError("a single-AZ database needs single_az_reason: say why it is acceptable")
            acknowledge(self.instance, "AwsSolutions-RDS3", single_az_reason)

    @property
    def connections(self) -> ec2.Connections:
        return self.instance.connections


@jsii.implements(ec2.IConnectable)
class ReadReplicas(Construct):
    """`count` MySQL read replicas of `source`, children `Replica1`..`ReplicaN` (so adding
    one never renames the others), spread round-robin over `availability_zones`, with the
    source's engine, class, port, parameters (TLS required), IAM auth, encryption (inherited
    from the source), log exports and enhanced monitoring, behind one shared security group. A replica holds only
    a copy of the source's data, so it is deleted (not snapshotted) when a lower stage or a
    smaller count removes it; the source keeps every backup.
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
        self.replicas: list[rds.DatabaseInstanceReadReplica] = []
        for index in range(count):
            replica = rds.DatabaseInstanceReadReplica(
                self,
                f"Replica{index + 1}",
                source_database_instance=source.instance,
                instance_type=ec2.InstanceType(instance_type),
                vpc=vpc,
                vpc_subnets=subnets,
                availability_zone=availability_zones[index % len(availability_zones)],
                security_groups=[self.security_group],
                port=source.port,
                parameter_group=source.parameters,
                storage_type=rds.StorageType.GP3,
                iam_authentication=True,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                cloudwatch_logs_exports=["error", "slowquery"],
                monitoring_interval=cdk.Duration.seconds(60),
                ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
                deletion_protection=False,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            acknowledge(
                replica.node.find_child("MonitoringRole"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
                "AWS-maintained service-role policy that only lets RDS write OS metrics to the "
                "RDSOSMetrics log group; RDS Enhanced Monitoring documents it as the required policy.",
            )
            self.replicas.append(replica)
        acknowledge(
            self,
            "AwsSolutions-RDS3",
            "Each read replica is single-AZ by design: the replicas sit in different AZs, the "
            "app spreads reads over all of them, and the Multi-AZ primary holds the data.",
        )
        acknowledge(
            self,
            "AwsSolutions-RDS2",
            "A replica of an encrypted source is always encrypted with the source's key; "
            "CloudFormation rejects StorageEncrypted beside SourceDBInstanceIdentifier, so the "
            "rule cannot see it.",
        )
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

    @property
    def connections(self) -> ec2.Connections:
        return self._connections

    @property
    def hosts(self) -> list[str]:
        return [replica.db_instance_endpoint_address for replica in self.replicas]
