"""The app's own database user on each MySQL instance, created at deploy time."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import OPERATIONAL_LOGS_REASON, skip_check
from constructs_lib.data_key import grant_secret_read
from constructs_lib.python_function import PowertoolsFunction

PROVISIONER_ID = "DatabaseUserProvisioner"
FRAMEWORK_SKIPS = {
    "CKV_AWS_115": "aws-cdk-lib's provider framework function, invoked by CloudFormation only while this stack "
    "deploys; reserving concurrency would take it from the account's unreserved pool for nothing.",
    "CKV_AWS_116": "aws-cdk-lib's provider framework function: CloudFormation invokes it and waits for its "
    "answer, so a failure fails (and rolls back) the deploy instead of waiting in a dead-letter queue.",
    "CKV_AWS_117": "aws-cdk-lib's provider framework function calls only the Lambda API (to invoke the "
    "provisioner, which runs in the VPC) and CloudFormation's response URL; nothing private to protect.",
    "CKV_AWS_173": "aws-cdk-lib's provider framework function: its environment holds only the provisioner's "
    "function name, no secret; Lambda encrypts it at rest with its service key.",
}


class DatabaseUserProvisioner(Construct):
    """One per stack (`of`): a Lambda in `subnets` of `vpc` (handler
    lambda/db_app_user, PyMySQL bundled) behind a custom-resource provider. For each
    database given to `create_app_user` it signs in with the master secret, over TLS,
    and creates the user of the app secret with the app's privileges on the app database
    only. It reaches Secrets Manager through `secrets_manager_endpoint` (default: none,
    the subnets need another route) and each database through its security group.

    :param vpc: The VPC the function runs in.
    :param subnets: The subnets it runs in, from which it reaches the databases.
    :param secrets_manager_endpoint: The Secrets Manager interface endpoint it reaches Secrets Manager through.
        Default: none, `subnets` need another route
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Creates the app database users", allow_all_outbound=False
        )
        if secrets_manager_endpoint is not None:
            self.security_group.connections.allow_to(
                secrets_manager_endpoint, ec2.Port.HTTPS, "Database user provisioner to Secrets Manager"
            )
        handler = PowertoolsFunction(
            self,
            "Handler",
            folder="db_app_user",
            description="Creates the app's own least-privilege MySQL user (custom resource)",
            environment={},
            timeout_seconds=60,
            bundled_packages=["pymysql"],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
        )
        self.handler = handler.function
        skip_check(
            self.handler,
            "CKV_AWS_116",
            "Invoked only synchronously, by the custom-resource provider framework, which reports a failure to "
            "CloudFormation and so fails (and rolls back) the deploy.",
        )
        self.provider = cr.Provider(self, "Provider", on_event_handler=self.handler)
        self._exempt_framework()

    @classmethod
    def of(
        cls,
        scope: Construct,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
    ) -> DatabaseUserProvisioner:
        """The stack's provisioner, created on first use."""
        stack = cdk.Stack.of(scope)
        existing = stack.node.try_find_child(PROVISIONER_ID)
        if isinstance(existing, DatabaseUserProvisioner):
            return existing
        return cls(stack, PROVISIONER_ID, vpc=vpc, subnets=subnets, secrets_manager_endpoint=secrets_manager_endpoint)

    def _exempt_framework(self) -> None:
        """Acknowledge and skip what applies to aws-cdk-lib's provider framework function, not to ours."""
        framework = self.provider.node.find_child("framework-onEvent")
        stack = cdk.Stack.of(self)
        handler_logical_id = stack.resolve(stack.get_logical_id(cast(cdk.CfnElement, self.handler.node.default_child)))
        acknowledge(
            framework,
            "AwsSolutions-L1",
            "The custom-resource framework function is generated by aws-cdk-lib's Provider with the "
            "Node.js runtime that CDK release pins; it moves with aws-cdk-lib upgrades.",
        )
        for check_id, reason in FRAMEWORK_SKIPS.items():
            skip_check(framework, check_id, reason)
        framework_logs = framework.node.try_find_child("LogGroup")
        if framework_logs is not None:
            skip_check(framework_logs, "CKV_AWS_158", OPERATIONAL_LOGS_REASON)
        for finding, reason in (
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "AWS-maintained policy that only lets the custom-resource framework function write its own logs.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::<{handler_logical_id}.Arn>:*]",
                "The framework may invoke only the provisioner function, any version or alias of it.",
            ),
        ):
            acknowledge(framework, finding, reason)

    def create_app_user(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance: rds.DatabaseInstance,
        master_secret: secretsmanager.ISecret,
        app_secret: secretsmanager.ISecret,
        database_name: str,
    ) -> cdk.CustomResource:
        """The custom resource that creates `app_secret`'s user on `instance`."""
        self.security_group.connections.allow_to_default_port(instance, f"Provisioner to {instance.node.path}")
        grant_secret_read(master_secret, self.handler)
        grant_secret_read(app_secret, self.handler)
        return cdk.CustomResource(
            scope,
            construct_id,
            service_token=self.provider.service_token,
            resource_type="Custom::DatabaseAppUser",
            properties={
                "MasterSecretArn": master_secret.secret_arn,
                "AppSecretArn": app_secret.secret_arn,
                "DatabaseName": database_name,
            },
        )
