from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import skip_check
from constructs_lib.python_function import FailureAlarms, PowertoolsFunction, failure_queue


class ActivityStream(Construct):
    """A Kinesis data stream (on-demand capacity, encrypted with the AWS-managed key,
    retained on removal) and its Lambda consumer (`lambda/<folder>/app.py`): batches with
    a batching window, partial batch failure reporting, bisect-on-error, bounded retries
    and record age, and an SQS on-failure destination encrypted with `key` that keeps what
    could not be processed; alarms on that destination and on function errors go to `alarm_topic`.

    :param folder: The consumer's handler folder: `lambda/<folder>/app.py`.
    :param description: The consumer function's description.
    :param environment: The consumer's environment variables (names and settings, never a secret).
    :param alarm_topic: Where the failure alarms go.
    :param key: The customer-managed KMS key the on-failure queue is encrypted with.
    :param retention_hours: How long the stream keeps a record. Default: 48
    :param batch_size: The most records one invocation receives. Default: 100
    :param max_batching_window_seconds: How long the event source gathers a batch. Default: 5
    :param retry_attempts: Retries of a failing batch before its records go to the on-failure queue. Default: 3
    :param max_record_age_hours: A record older than this goes to the on-failure queue instead of a retry. Default:
        6
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        environment: dict[str, str],
        alarm_topic: sns.ITopic,
        key: kms.IKey,
        retention_hours: int = 48,
        batch_size: int = 100,
        max_batching_window_seconds: int = 5,
        retry_attempts: int = 3,
        max_record_age_hours: int = 6,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            # The AWS-managed key: producers and consumers need no key grants, and a customer
            # key's per-request cost scales with traffic (AwsSolutions-KDS3).
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=cdk.Duration.hours(retention_hours),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.failures = failure_queue(self, "Failures", key=key)
        acknowledge(
            self.failures,
            "AwsSolutions-SQS3",
            "This queue is itself the terminal on-failure destination of the Kinesis consumer "
            "(it holds the metadata of records that exhausted their retries); it is alarmed on.",
        )
        self.function, self.role = self._consumer(folder, description, environment)
        self.function.add_event_source(
            event_sources.KinesisEventSource(
                self.stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                max_batching_window=cdk.Duration.seconds(max_batching_window_seconds),
                bisect_batch_on_error=True,
                retry_attempts=retry_attempts,
                max_record_age=cdk.Duration.hours(max_record_age_hours),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.failures),
            )
        )
        FailureAlarms(self, "Alarms", function=self.function, failed=self.failures, topic=alarm_topic)

    def _consumer(
        self, folder: str, description: str, environment: dict[str, str]
    ) -> tuple[lambda_.Function, iam.Role]:
        consumer = PowertoolsFunction(self, "Consumer", folder=folder, description=description, environment=environment)
        skip_check(
            consumer.function,
            "CKV_AWS_116",
            "Invoked only synchronously, by the Kinesis event source mapping: records it fails on go to the "
            "mapping's on-failure destination queue, not to an asynchronous-invocation dead-letter queue.",
        )
        skip_check(
            consumer.function,
            "CKV_AWS_117",
            "Reaches only AWS APIs over TLS with IAM authentication and no private resource; a VPC would add "
            "endpoints or NAT without narrowing what it can reach.",
        )
        return consumer.function, consumer.role

    def grant_put(self, grantee: iam.IGrantable) -> None:
        """Put records (and list shards, which producer libraries do first)."""
        self.stream.grant(grantee, "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards")
