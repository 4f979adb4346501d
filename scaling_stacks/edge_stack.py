from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from constructs import Construct

from constructs_lib.buckets import SecureBucket
from constructs_lib.cdn import SiteDistribution
from constructs_lib.data_key import DataKey
from constructs_lib.waf import ManagedRulesWebAcl, waf_log_group_name
from scaling_stacks.config import StageConfig
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.stack_props import StackProps

# CloudFront only accepts web ACLs (and certificates) from this region.
CLOUDFRONT_REGION = "us-east-1"
# The service's session cookie (service/sessions.py COOKIE, which the CDK app does not import:
# it needs the service's drivers); tests check the two agree.
SESSION_COOKIE = "sid"


class EdgeWafStack(cdk.Stack):
    """The CloudFront-scoped WAF web ACL, which must live in us-east-1 whatever the app's region,
    and the key of its request logs, in the same region as they are."""

    web_acl_arn: str

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Unpack[StackProps]
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        metric_prefix = f"{config.app_name}-edge"
        logs_key = DataKey(
            self,
            "LogsKey",
            alias_name=f"{config.app_name}/edge-logs",
            description=f"Encrypts {config.app_name}'s WAF request logs",
            log_group_names=[waf_log_group_name(metric_prefix)],
        ).key
        self.web_acl_arn = ManagedRulesWebAcl(
            self, "WebAcl", waf_scope="CLOUDFRONT", metric_prefix=metric_prefix, log_key=logs_key
        ).arn


class EdgeStack(cdk.Stack):
    """The edge: CloudFront in front of the compute origin, a private static-asset bucket
    behind origin access control, and the WAF web ACL attached."""

    distribution: cloudfront.IDistribution

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        origin: cloudfront.IOrigin,
        origin_plain_http_reason: str | None,
        web_acl_arn: str,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        static = SecureBucket(self, "StaticAssets", log_bucket=network.logs, log_prefix="s3/static/").bucket
        site = SiteDistribution(
            self,
            "Site",
            origin=origin,
            static_bucket=static,
            web_acl_arn=web_acl_arn,
            log_bucket=network.logs,
            session_cookie=SESSION_COOKIE,
            domain_name=config.domain_name,
            certificate_arn=config.cloudfront_certificate_arn,
            plain_http_origin_reason=origin_plain_http_reason,
        )
        self.distribution = site.distribution
        cdk.CfnOutput(self, "DistributionDomainName", value=site.domain_name)
        cdk.CfnOutput(self, "StaticBucketName", value=static.bucket_name)
