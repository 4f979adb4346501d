from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# Every AWS managed group here is free of the per-group subscription charge and none
# needs tuning for a typical web API.
DEFAULT_MANAGED_GROUPS: tuple[str, ...] = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)


def waf_log_group_name(metric_prefix: str) -> str:
    """WAF only delivers to log groups whose name starts with aws-waf-logs-."""
    return f"aws-waf-logs-{metric_prefix}"


class ManagedRulesWebAcl(Construct):
    """A WAFv2 web ACL (CLOUDFRONT or REGIONAL scope) that allows by default, blocks what
    the AWS managed rule groups match and any IP above `rate_limit` requests per 5
    minutes, and logs to a retained CloudWatch log group (`waf_log_group_name`) encrypted with
    `log_key`, whose policy must let CloudWatch Logs use it for that group: the logs hold
    client addresses, URIs and headers. aws-cdk-lib has no L2 for WAFv2, so this wraps the L1.

    :param waf_scope: CLOUDFRONT (the ACL must then live in us-east-1) or REGIONAL. Default: CLOUDFRONT
    :param metric_prefix: Prefix of the ACL's metric names and of its log group's name.
    :param log_key: The customer-managed KMS key the log group is encrypted with.
    :param managed_groups: The AWS managed rule groups, in priority order. Default: `DEFAULT_MANAGED_GROUPS`
    :param rate_limit: Requests per 5 minutes from one IP above which it is blocked. Default: 2000
    :param log_retention: How long the log group keeps WAF logs. Default: one year
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        waf_scope: str = "CLOUDFRONT",
        metric_prefix: str,
        log_key: kms.IKey,
        managed_groups: Sequence[str] = DEFAULT_MANAGED_GROUPS,
        rate_limit: int = 2000,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        rules = self._rules(metric_prefix, managed_groups, rate_limit)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope=waf_scope,
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=self._visibility(metric_prefix),
            rules=rules,
        )
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=waf_log_group_name(metric_prefix),
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group.log_group_arn],
        )

    @classmethod
    def _rules(
        cls, metric_prefix: str, managed_groups: Sequence[str], rate_limit: int
    ) -> list[wafv2.CfnWebACL.RuleProperty]:
        """One rule per managed group, in order, then the per-IP rate limit."""
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=cls._visibility(f"{metric_prefix}-{group}"),
            )
            for priority, group in enumerate(managed_groups)
        ]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=len(rules),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP"
                    )
                ),
                visibility_config=cls._visibility(f"{metric_prefix}-RateLimitPerIp"),
            )
        )
        return rules

    @property
    def arn(self) -> str:
        return self.web_acl.attr_arn

    @staticmethod
    def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
        )
