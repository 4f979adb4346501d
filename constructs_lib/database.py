from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

ENGINE_VERSION = rds.MysqlEngineVersion.VER_8_0_46
# A non-default port keeps scanners for 3306 off the database (AwsSolutions-RDS11); it is
# fixed from the first stage because changing it later restarts the database.
DEFAULT_PORT = 3307


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
        parameters = rds.ParameterGroup(
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
        self.secret = self.instance.secret
        assert self.secret is not None
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
