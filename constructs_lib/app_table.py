from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.data_key import acknowledge_key_grants

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
    protection, encrypted with the customer-managed `key`, retained on removal.

    :param key: The customer-managed KMS key the table is encrypted with.
    :param provisioned: (minimum, maximum) capacity units for reads and for writes: provisioned capacity with auto
        scaling. Default: none, on-demand capacity
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
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
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._key = key
        if provisioned:
            low, high = provisioned
            for scaling in (
                self.table.auto_scale_read_capacity(min_capacity=low, max_capacity=high),
                self.table.auto_scale_write_capacity(min_capacity=low, max_capacity=high),
            ):
                scaling.scale_on_utilization(target_utilization_percent=70)

    def grant_read_write(self, role: iam.IRole) -> None:
        """Read and write every item, with the key use that needs."""
        self.table.grant_read_write_data(role)
        acknowledge_key_grants(role)

    def grant_items(self, role: iam.IRole, *actions: str) -> None:
        """`actions` on the table's items, and the key use DynamoDB makes for the caller to serve them."""
        self.table.grant(role, *actions)
        self._key.grant_encrypt_decrypt(role)
        acknowledge_key_grants(role)
