"""A customer-managed KMS key for data at rest, with a key policy that names who may use it."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import skip_check

# The services that encrypt the app's data with this key on a caller's behalf (secrets,
# the table, the queues), and what each does with it for that caller.
VIA_SERVICES = ("secretsmanager", "dynamodb", "sqs")
DATA_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]
LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
KEY_GRANT_REASON = (
    "aws-cdk-lib's grants for a table or queue under a customer-managed key: GenerateDataKey* and ReEncrypt* "
    "name the variants of two actions DynamoDB and SQS make with the data key, on that one key only."
)
APP_ROLES_REASON = (
    "The principal is '*' only inside conditions: callers of this account (kms:CallerAccount) whose role carries "
    "the app's tag (aws:PrincipalTag), and only through Secrets Manager, DynamoDB or SQS (kms:ViaService), which "
    "use the key only for data the caller's IAM policy already lets it read or write. It lets a role of a stack "
    "deployed after the key's first user keep its access while that user switches to this key."
)


class DataKey(Construct):
    """A symmetric KMS key (`key`) with yearly automatic rotation, retained on removal, named
    `alias/<alias_name>`, described by `description`. Its policy: the account's IAM policies
    may grant it (the default statement; every reader of the data gets an IAM grant);
    CloudWatch Logs may use it for the log groups named by `log_group_names` (patterns, `*`
    allowed; default none); with `app_tag` (tag key, value; default none) the account's roles
    carrying that tag may use it through Secrets Manager, DynamoDB and SQS; SNS may use it to
    deliver to encrypted queues from the topics named by `sns_topic_names` (patterns; default none).

    :param alias_name: The key's alias, without `alias/`, such as `scaling/data`.
    :param description: The key's description.
    :param log_group_names: Log group names (patterns, `*` allowed) CloudWatch Logs may use the key for.
        Default: none
    :param app_tag: (tag key, value) of the account's roles that may use the key through Secrets Manager,
        DynamoDB and SQS. Default: none
    :param sns_topic_names: Names (patterns) of the topics SNS may use the key for when it delivers to encrypted
        queues. Default: none
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias_name: str,
        description: str,
        log_group_names: Sequence[str] = (),
        app_tag: tuple[str, str] | None = None,
        sns_topic_names: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            alias=f"alias/{alias_name}",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        if log_group_names:
            self._allow_service(
                "CloudWatchLogsGroups",
                f"logs.{stack.region}.amazonaws.com",
                LOGS_ACTIONS,
                "kms:EncryptionContext:aws:logs:arn",
                [
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in log_group_names
                ],
            )
        if app_tag is not None:
            self._allow_app_roles(stack, *app_tag)
        if sns_topic_names:
            self._allow_service(
                "SnsDeliveryToQueues",
                "sns.amazonaws.com",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                "aws:SourceArn",
                [
                    stack.format_arn(service="sns", resource=name, arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)
                    for name in sns_topic_names
                ],
            )

    def _allow_service(self, sid: str, service: str, actions: list[str], arn_key: str, arns: list[str]) -> None:
        """Let the AWS service principal `service` use the key only for resources whose `arn_key` matches `arns`."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=actions,
                resources=["*"],
                conditions={"ArnLike": {arn_key: arns}},
            )
        )

    def _allow_app_roles(self, stack: cdk.Stack, tag_key: str, tag_value: str) -> None:
        # `cdk deploy --all` switches a secret or table to this key in its own stack before the
        # stacks of its later readers (hosts, tasks, workers) deploy the IAM grants for it; this
        # statement bridges that gap without naming those roles, which would be a dependency cycle.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AppRolesThroughDataServices",
                principals=[iam.AnyPrincipal()],
                actions=DATA_ACTIONS,
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:CallerAccount": stack.account,
                        f"aws:PrincipalTag/{tag_key}": tag_value,
                        "kms:ViaService": [f"{service}.{stack.region}.amazonaws.com" for service in VIA_SERVICES],
                    }
                },
            )
        )
        skip_check(self.key, "CKV_AWS_33", APP_ROLES_REASON)

    @staticmethod
    def imported(scope: Construct, key: kms.IKey) -> kms.IKey:
        """`key` as seen from `scope`'s stack: grants there go into IAM policies only, and nothing a
        construct there does (an SNS subscription, a secret) adds to the key policy from afar,
        which would also make the key's stack depend on the user's."""
        return kms.Key.from_key_arn(scope, "DataKey", key.key_arn)


def acknowledge_key_grants(role: iam.IRole) -> None:
    """Acknowledge the wildcard key actions of a table or queue grant on `role`."""
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", KEY_GRANT_REASON)


def grant_secret_read(secret: secretsmanager.ISecret, grantee: iam.IGrantable) -> None:
    """`secret.grant_read`, plus the decrypt of its key through Secrets Manager in `grantee`'s own
    policy: for a key of another stack `grant_read` would put that into the key policy, and an
    imported key (`DataKey.imported`) takes no statements."""
    secret.grant_read(grantee)
    if secret.encryption_key is not None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:Decrypt"],
            resource_arns=[secret.encryption_key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"secretsmanager.{cdk.Stack.of(secret).region}.amazonaws.com"}
            },
        )
