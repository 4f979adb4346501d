from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.checkov import skip_check
from constructs_lib.python_function import FailureAlarms, PowertoolsFunction, failure_queue


class QueueWorker(Construct):
    """An SQS work queue and the Lambda that drains it: both queues encrypted with `key`
    (the messages carry user content; senders need `queue.grant_send_messages`, which grants
    the key too), TLS-only and retained on removal; a message that fails `max_receive_count` times moves
    to the dead-letter queue; the function (`lambda/<folder>/app.py`) receives batches and
    reports batch item failures, so only failed messages are retried; alarms on dead
    letters and on function errors go to `alarm_topic`.

    :param folder: The worker's handler folder: `lambda/<folder>/app.py`.
    :param description: The worker function's description.
    :param environment: The worker's environment variables (names and settings, never a secret).
    :param alarm_topic: Where the failure alarms go.
    :param key: The customer-managed KMS key the queue and its dead-letter queue are encrypted with.
    :param batch_size: The most messages one invocation receives. Default: 10
    :param max_batching_window_seconds: How long the event source gathers a batch. Default: 5
    :param max_receive_count: Receives of a message before it moves to the dead-letter queue. Default: 5
    :param timeout_seconds: The function's timeout; the queue's visibility timeout is six times it. Default: 30
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
        batch_size: int = 10,
        max_batching_window_seconds: int = 5,
        max_receive_count: int = 5,
        timeout_seconds: int = 30,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = failure_queue(self, "DeadLetterQueue", key=key)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(4),
            # AWS's guidance for Lambda consumers: six times the function timeout, so a
            # batch being retried by Lambda is not handed to a second invocation.
            visibility_timeout=cdk.Duration.seconds(timeout_seconds * 6),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        worker = PowertoolsFunction(
            self,
            "Worker",
            folder=folder,
            description=description,
            environment=environment,
            timeout_seconds=timeout_seconds,
        )
        self.function = worker.function
        self.role = worker.role
        _skip_checks_that_do_not_apply(self.function)
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=cdk.Duration.seconds(max_batching_window_seconds),
                report_batch_item_failures=True,
            )
        )
        FailureAlarms(self, "Alarms", function=self.function, failed=self.dead_letter_queue, topic=alarm_topic)


def _skip_checks_that_do_not_apply(function: lambda_.IFunction) -> None:
    skip_check(
        function,
        "CKV_AWS_116",
        "Invoked only synchronously, by the SQS event source mapping: a message it fails on returns to the "
        "queue and moves to the queue's dead-letter queue after max_receive_count tries.",
    )
    skip_check(
        function,
        "CKV_AWS_117",
        "Reaches only AWS APIs (SQS, DynamoDB) over TLS with IAM authentication and no private resource; a "
        "VPC would add endpoints or NAT without narrowing what it can reach.",
    )
