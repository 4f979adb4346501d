from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.activity_stream import ActivityStream
from constructs_lib.data_key import DataKey
from constructs_lib.event_topic import EventTopic
from constructs_lib.queue_worker import QueueWorker
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.stack_props import StackProps

# The post worker only counts posts, so it does not need to hear about edits.
COUNTED_POST_EVENTS = {
    "type": sns.FilterOrPolicy.filter(sns.SubscriptionFilter.string_filter(allowlist=["post.created", "post.deleted"]))
}


class AsyncStack(cdk.Stack):
    """Work done off the request path. Stage 5: the post-events queue and its worker,
    which keeps per-user counters in the DynamoDB table. Stage 6: the post-events SNS
    topic fanned out to that queue, and the activity Kinesis stream with its consumer."""

    post_queue: sqs.IQueue
    # Stage 6: publishers call `events.grant_publish` and `activity.grant_put`.
    events: EventTopic | None
    events_topic_arn: str | None
    activity: ActivityStream | None
    activity_stream_name: str | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        data: DataStack,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        table = data.table
        assert table is not None and data.table_name is not None, "the async layer writes to the stage-5 table"
        environment = {"TABLE_NAME": data.table_name}
        # Imported, so the SNS subscription's key statement stays out of the key's own stack,
        # whose policy allows the app's topics already.
        data_key = DataKey.imported(self, network.data_key)
        post_worker = QueueWorker(
            self,
            "PostWorker",
            folder="post_worker",
            description="Applies post events to per-user counters, once per event id",
            environment=environment,
            alarm_topic=network.alarms,
            key=data_key,
        )
        table.grant_items(post_worker.role, "dynamodb:PutItem", "dynamodb:UpdateItem")
        self.post_queue = post_worker.queue
        self.events = None
        self.events_topic_arn = None
        self.activity = None
        self.activity_stream_name = None
        if config.has_microservices:
            self.events = EventTopic(self, "PostEvents", consumers=[(post_worker.queue, COUNTED_POST_EVENTS)])
            self.events_topic_arn = self.events.topic.topic_arn
            self.activity = ActivityStream(
                self,
                "Activity",
                folder="activity_consumer",
                description="Stores activity events per user, once per event id",
                environment=environment,
                alarm_topic=network.alarms,
                key=data_key,
            )
            self.activity_stream_name = self.activity.stream.stream_name
            table.grant_items(self.activity.role, "dynamodb:PutItem")
