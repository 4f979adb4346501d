from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_lib.checkov import skip_check

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"


class AppTable(Construct):
    """The single DynamoDB table for high-write data, keyed for these access patterns
    (`<id>` is the numeric user id, `<ulid>` a time-sortable id):

    - a user's posts, newest first: pk `USER#<id>`, sk `POST#<ulid>`, Query descending;
    - a user's counters (posts written): pk `USER#<id>`, sk `STATS`;
    - a user's recent activity: pk `USER#<id>`, sk `ACTIVITY#<event id>`, expiring;
    - at-most-once markers of processed events: pk `EVENT#<event id>`, sk `EVENT`, expiring.

    Items with a numeric `expires_at` (epoch seconds) are deleted by TTL. On-demand
    capacity unless `provisioned` is given (min, max) for both reads and writes, then
    target-tracking auto scaling at 70 % utilisation. Point-in-time recovery, deletion
    protection, AWS-managed KMS encryption, retained on removal.

    :param provisioned: (minimum, maximum) capacity units for reads and for writes: provisioned capacity with auto
        scaling. Default: none, on-demand capacity
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        provisioned: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        billing = dynamodb.BillingMode.PROVISIONED if provisioned else dynamodb.BillingMode.PAY_PER_REQUEST
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=billing,
            read_capacity=provisioned[0] if provisioned else None,
            write_capacity=provisioned[0] if provisioned else None,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        skip_check(
            self.table,
            "CKV_AWS_119",
            "Encrypted at rest with the AWS-managed key aws/dynamodb, which CloudTrail logs; who may read the "
            "table is decided by IAM alone (the posts service and the worker); a customer-managed key would "
            "repeat those principals in a key policy without narrowing access.",
        )
        if provisioned:
            low, high = provisioned
            for scaling in (
                self.table.auto_scale_read_capacity(min_capacity=low, max_capacity=high),
                self.table.auto_scale_write_capacity(min_capacity=low, max_capacity=high),
            ):
                scaling.scale_on_utilization(target_utilization_percent=70)
