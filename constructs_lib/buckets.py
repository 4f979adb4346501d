from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import skip_check

# What every bucket here shares: S3-managed encryption (the only kind ALB log delivery
# accepts), TLS only, no public access, versions kept, and the bucket kept on removal.
_PRIVATE: dict[str, Any] = {
    "encryption": s3.BucketEncryption.S3_MANAGED,
    "enforce_ssl": True,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "versioned": True,
    "removal_policy": cdk.RemovalPolicy.RETAIN,
}


class LogArchiveBucket(Construct):
    """The bucket every access log lands in (VPC flow logs, S3 server access logs, ALB and
    CloudFront logs): SSE-S3 (the only encryption ALB log delivery accepts), TLS only, no
    public access, ACLs enabled only for the log-delivery writer CloudFront uses, objects
    moved to cheaper storage and expired after `retention_days`, retained on removal.

    :param retention_days: Days a log object is kept (it moves to Infrequent Access after 30). Default: 365
    """

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int = 365) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **_PRIVATE,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="age-out-logs",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(30)
                        )
                    ],
                    expiration=cdk.Duration.days(retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        skip_check(
            self.bucket,
            "CKV_AWS_18",
            "This is the access-log destination of every other bucket; logging its own access into itself "
            "would loop, and AWS advises against a bucket that logs to itself.",
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging its own accesses into itself would "
            "loop, and CloudTrail data events are the control for who reads the logs.",
        )


class SecureBucket(Construct):
    """A private bucket: S3-managed encryption, TLS only, public access blocked, ACLs off,
    versioning, server access logs to `log_bucket`, retained on removal. `cors` (default
    none) lets browsers on other origins call it, e.g. to POST presigned uploads.

    :param log_bucket: Where the bucket's server access logs go.
    :param log_prefix: Key prefix of those logs in `log_bucket`.
    :param intelligent_tiering: Move objects to S3 Intelligent-Tiering at once and archive those untouched for 90
        days. Default: False
    :param cors: CORS rules for browsers on other origins. Default: none, no cross-origin access
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_bucket: s3.IBucket,
        log_prefix: str,
        intelligent_tiering: bool = False,
        cors: Sequence[s3.CorsRule] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **_PRIVATE,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix=log_prefix,
            cors=list(cors) if cors else None,
            intelligent_tiering_configurations=(
                [
                    s3.IntelligentTieringConfiguration(
                        name="archive-cold-objects", archive_access_tier_time=cdk.Duration.days(90)
                    )
                ]
                if intelligent_tiering
                else None
            ),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tidy-versions",
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                    transitions=(
                        [
                            s3.Transition(
                                storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=cdk.Duration.days(0)
                            )
                        ]
                        if intelligent_tiering
                        else None
                    ),
                )
            ],
        )
