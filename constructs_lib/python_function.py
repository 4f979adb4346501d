from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import OPERATIONAL_LOGS_REASON, skip_check

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambda"
RUNTIME = lambda_.Runtime.PYTHON_3_13
# The AWS-published Powertools layer (logging and batch processing; the handlers do not use
# its X-Ray SDK based Tracer, which follows the X-Ray SDK into end of support). Its name pins the
# runtime and architecture above; the version is the one documented for the Powertools
# release the handler tests run against.
POWERTOOLS_LAYER = "AWSLambdaPowertoolsPythonV3-python313-arm64:27"
POWERTOOLS_ACCOUNT = "017000801446"
# Caches next to the code would change the asset hash from run to run.
# Documentation ships in the repository, not in an asset: a README edit must not roll the hosts.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", "*.md"]


@jsii.implements(cdk.ILocalBundling)
class _HandlerWithPackages:
    """Copies the handler folder and the named pure-Python packages, as installed beside
    this CDK app (pinned in requirements.txt), into the asset: offline, no Docker."""

    def __init__(self, code_dir: Path, packages: Sequence[str]) -> None:
        self._code_dir = code_dir
        self._packages = packages

    def try_bundle(self, output_dir: str, *_options: Any, **_kw_options: Any) -> bool:
        ignore = shutil.ignore_patterns(*ASSET_EXCLUDES)
        shutil.copytree(self._code_dir, output_dir, dirs_exist_ok=True, ignore=ignore)
        for package in self._packages:
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise ValueError(f"{package} is not installed: add it to requirements.txt")
            source = Path(spec.origin).parent
            shutil.copytree(source, Path(output_dir) / package, dirs_exist_ok=True, ignore=ignore)
        return True


def _code(code_dir: Path, packages: Sequence[str]) -> lambda_.Code:
    if not packages:
        return lambda_.Code.from_asset(str(code_dir), exclude=ASSET_EXCLUDES)
    return lambda_.Code.from_asset(
        str(code_dir),
        exclude=ASSET_EXCLUDES,
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, so no container is needed.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=_HandlerWithPackages(code_dir, packages),
        ),
    )


class PowertoolsFunction(Construct):
    """A Python Lambda function for the handler in `lambda/<folder>/app.py`: arm64, the
    AWS Powertools layer, active tracing (Lambda records each invocation in X-Ray and continues
    the trace a traced sender passed on, such as SQS's AWSTraceHeader), its own role (no managed
    policies but the VPC access one when it runs in `vpc`) and a log group kept for
    `log_retention`. Callers grant the role what the handler touches.

    :param folder: The handler's folder: `lambda/<folder>/app.py`.
    :param description: The function's description.
    :param environment: Environment variables (names and settings, never a secret).
    :param timeout_seconds: The function's timeout. Default: 30
    :param memory_size: The function's memory in MiB. Default: 256
    :param log_retention: How long its log group keeps logs. Default: three months
    :param bundled_packages: Pure-Python packages copied beside the handler from this app's environment. Default:
        none
    :param vpc: The VPC to run in, when the function must reach private resources. Default: none, no VPC
    :param vpc_subnets: The subnets of `vpc` to run in. Default: CDK's default selection of `vpc`
    :param security_groups: The function's security groups in `vpc`. Default: one CDK creates
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        environment: dict[str, str],
        timeout_seconds: int = 30,
        memory_size: int = 256,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        bundled_packages: Sequence[str] = (),
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        code_dir = LAMBDA_ROOT / folder
        if not (code_dir / "app.py").is_file():
            raise ValueError(f"no handler at lambda/{folder}/app.py")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            f"arn:{cdk.Aws.PARTITION}:lambda:{cdk.Aws.REGION}:{POWERTOOLS_ACCOUNT}:layer:{POWERTOOLS_LAYER}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="app.handler",
            code=_code(code_dir, bundled_packages),
            layers=[layer],
            role=self.role,
            log_group=self.log_group,
            timeout=cdk.Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"POWERTOOLS_SERVICE_NAME": folder, **environment},
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )
        self.log_group.grant_write(self.role)
        self._acknowledge_and_skip(in_vpc=vpc is not None)

    def _acknowledge_and_skip(self, *, in_vpc: bool) -> None:
        if in_vpc:
            acknowledge(
                self.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                "AWS-maintained policy that lets Lambda manage the function's network interfaces in the VPC "
                "and write its logs; Lambda documents it for VPC functions, and its EC2 network-interface "
                "actions take no resource-level scoping.",
            )
        skip_check(self.log_group, "CKV_AWS_158", OPERATIONAL_LOGS_REASON)
        skip_check(
            self.function,
            "CKV_AWS_115",
            "Reserved concurrency comes out of the account's unreserved pool, and an account at the default "
            "limit refuses any reservation (the deploy would fail); what invokes this function bounds it "
            "(an event source's batches, or one custom-resource event at a time).",
        )
        skip_check(
            self.function,
            "CKV_AWS_173",
            "The environment holds resource names and settings only, never a secret (secrets are read from "
            "Secrets Manager at run time); Lambda encrypts it at rest with its service key.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to python3.13 because the AWS-published Powertools layer is built per Python "
            "version and this one is the documented, tested pairing; RUNTIME and POWERTOOLS_LAYER "
            "move together to the next runtime.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions; "
            "they are the only actions granted on '*' (added by active tracing).",
        )


def failure_queue(scope: Construct, construct_id: str, *, key: kms.IKey) -> sqs.Queue:
    """Where messages a function could not process wait for a person: encrypted with `key`
    (they carry what the function failed on), TLS-only, kept 14 days (the most SQS allows)
    and retained on removal."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


class FailureAlarms(Construct):
    """Two alarms to `topic`: any message waiting in `failed` (the dead-letter queue or
    on-failure destination that holds what `function` could not process), and any error
    of `function` itself (a crash or timeout, which fails a whole batch).

    :param function: The function whose errors alarm.
    :param failed: The queue that holds what `function` could not process.
    :param topic: Where the alarms (and their return to OK) go.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, failed: sqs.IQueue, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, construct_id)
        action = cloudwatch_actions.SnsAction(topic)
        failed_messages = cloudwatch.Alarm(
            self,
            "FailedMessages",
            alarm_description=f"Messages {function.node.path} could not process are waiting in {failed.node.path}",
            metric=failed.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        errors = cloudwatch.Alarm(
            self,
            "FunctionErrors",
            alarm_description=f"{function.node.path} failed whole invocations (crash or timeout)",
            metric=function.metric_errors(period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (failed_messages, errors):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
