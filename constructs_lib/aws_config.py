from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_config as config
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.buckets import SecureBucket

# The AWS managed rules that check this app's security guidance: encrypted EBS volumes and
# RDS storage, no public S3 bucket, no security group open to SSH from anywhere.
SECURITY_RULES: dict[str, str] = {
    "EncryptedVolumes": config.ManagedRuleIdentifiers.EBS_ENCRYPTED_VOLUMES,
    "RdsStorageEncrypted": config.ManagedRuleIdentifiers.RDS_STORAGE_ENCRYPTED,
    "S3BucketPublicAccessProhibited": config.ManagedRuleIdentifiers.S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED,
    "RestrictedSsh": config.ManagedRuleIdentifiers.EC2_SECURITY_GROUPS_INCOMING_SSH_DISABLED,
}


class SecurityConfigRules(Construct):
    """An AWS Config recorder (all supported resource types, global ones included), a
    retained private bucket for its history (server access logs to `log_bucket`) that only
    AWS Config for this account may write to, and the managed rules in `SECURITY_RULES`.
    A region holds one recorder per account: add this only where no other recorder (such
    as one from AWS Control Tower) exists.

    :param log_bucket: Where the history bucket's server access logs go.
    """

    def __init__(self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        bucket = SecureBucket(self, "History", log_bucket=log_bucket, log_prefix="s3/config/").bucket
        service = iam.ServicePrincipal("config.amazonaws.com")
        same_account = {"StringEquals": {"aws:SourceAccount": account}}
        # The bucket policy AWS Config documents for delivery, limited to this account's writes.
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[service],
                actions=["s3:GetBucketAcl", "s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions=same_account,
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[service],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"AWSLogs/{account}/Config/*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account, "s3:x-amz-acl": "bucket-owner-full-control"}
                },
            )
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=service,
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]",
            "AWS-maintained policy that AWS Config documents for its recorder role; it only "
            "reads resource configurations, and AWS adds the permissions new resource types need.",
        )
        recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=True, include_global_resource_types=True
            ),
        )
        channel = config.CfnDeliveryChannel(self, "DeliveryChannel", s3_bucket_name=bucket.bucket_name)
        # Config checks it can write before it accepts the channel.
        channel.node.add_dependency(bucket.policy or bucket)
        for rule_id, identifier in SECURITY_RULES.items():
            rule = config.ManagedRule(self, rule_id, identifier=identifier)
            # A rule can only be created once the account records configurations.
            rule.node.add_dependency(recorder, channel)
