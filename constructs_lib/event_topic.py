from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class EventTopic(Construct):
    """An SNS topic for domain events (encrypted with a rotating customer key, TLS-only
    publishing) fanned out to one SQS queue per consumer: each entry of `consumers` is a
    queue and its filter policy on the message body (None for every event), subscribed
    with raw message delivery, so it receives the publisher's JSON unchanged.

    :param consumers: One (queue, filter policy on the message body) per consumer; a None policy delivers every
        event.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        consumers: Sequence[tuple[sqs.IQueue, Mapping[str, sns.FilterOrPolicy] | None]],
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {construct_id} SNS topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        for queue, body_filter in consumers:
            subscription: Any = subscriptions.SqsSubscription(
                queue, raw_message_delivery=True, filter_policy_with_message_body=body_filter
            )
            self.topic.add_subscription(subscription)

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Publish, with only the key actions publishing to an encrypted topic needs."""
        iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn])
        self.key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
