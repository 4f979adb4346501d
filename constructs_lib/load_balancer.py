from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.checkov import skip_check

HEALTH_PATH = "/health"


class TierLoadBalancer(Construct):
    """An Application Load Balancer in front of one tier: one listener (HTTPS with TLS 1.2+
    when a certificate is given, else HTTP) open only to `allowed_peer` (default: nobody) and to
    whatever is later allowed to `listener` through its connections, internal unless
    `internet_facing` (default False), invalid headers dropped, access logs to `log_bucket`,
    deletion protection, health checks on `HEALTH_PATH`. The listener forwards to `targets`
    in a target group named `targets_id` (default "Targets": a new id is a new group, which
    lets the listener move to new targets without emptying the group it serves from), and is
    created or updated only after every target that is a construct (an Auto Scaling group)
    exists. `route` adds path rules to other target groups once their targets serve.

    :param vpc: The VPC of the load balancer and its security group.
    :param subnets: The subnets of the load balancer's nodes.
    :param targets: What the listener forwards to (Auto Scaling groups, instances).
    :param log_bucket: Where access logs go.
    :param log_prefix: Key prefix of those logs in `log_bucket`.
    :param internet_facing: Whether the load balancer faces the internet. Default: False, internal
    :param allowed_peer: Who may reach the listener, besides peers allowed later through `listener`. Default: none,
        nobody
    :param targets_id: Construct id of the target group; a new id makes a new group. Default: Targets
    :param target_port: The port the targets listen on. Default: 80
    :param certificate_arn: An ACM certificate: the listener is then HTTPS on 443 with TLS 1.2+. Default: none, HTTP
        on 80
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        targets: Sequence[elbv2.IApplicationLoadBalancerTarget],
        log_bucket: s3.IBucket,
        log_prefix: str,
        internet_facing: bool = False,
        allowed_peer: ec2.IPeer | None = None,
        targets_id: str = "Targets",
        target_port: int = 80,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"{construct_id} load balancer", allow_all_outbound=False
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=internet_facing,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=True,
            http2_enabled=True,
        )
        self.load_balancer.log_access_logs(log_bucket, log_prefix)
        self.port = 443 if certificate_arn else 80
        self.listener = self._listener(certificate_arn)
        if allowed_peer is not None:
            self.security_group.add_ingress_rule(allowed_peer, ec2.Port.tcp(self.port), "clients of this tier")
        self.target_group = self.listener.add_targets(
            targets_id,
            port=target_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=list(targets),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH, healthy_threshold_count=2, interval=cdk.Duration.seconds(15)
            ),
            deregistration_delay=cdk.Duration.seconds(30),
        )
        # A listener that points at a group before its hosts exist answers 503 until they launch.
        # Resource to resource: the group's scaling policies wait for the listener themselves.
        listener = self.listener.node.default_child
        assert isinstance(listener, cdk.CfnResource)
        for target in targets:
            if isinstance(target, Construct) and isinstance(target.node.default_child, cdk.CfnResource):
                listener.node.add_dependency(target.node.default_child)

    def _listener(self, certificate_arn: str | None) -> elbv2.ApplicationListener:
        """HTTPS with TLS 1.2+ on 443 when a certificate is given, else HTTP on 80; closed until opened."""
        listener = self.load_balancer.add_listener(
            "Listener",
            port=self.port,
            open=False,
            protocol=elbv2.ApplicationProtocol.HTTPS if certificate_arn else elbv2.ApplicationProtocol.HTTP,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)] if certificate_arn else None,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if certificate_arn else None,
        )
        if not certificate_arn:
            reason = (
                "Plain HTTP because no certificate_arn is configured for this load balancer; the listener admits "
                "only the peers allowed through its security group (CloudFront's path for the front load "
                "balancer, the web tier for the internal one). Set domain_name and certificate_arn for HTTPS."
            )
            for check_id in ("CKV_AWS_2", "CKV_AWS_103"):
                skip_check(listener, check_id, reason)
        return listener

    def hold_for(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target_group: elbv2.IApplicationTargetGroup,
        priority: int,
        path: str,
    ) -> elbv2.CfnListenerRule:
        """Associate `target_group` with this listener without sending it traffic: a rule for
        `path` that forwards everything to the tier's own group (weight 1) and nothing to
        `target_group` (weight 0). ECS registers tasks only in a group a load balancer uses;
        this lets a service start, and pass its health checks, before `route` points at it.
        Make the service depend on the returned rule."""
        return elbv2.CfnListenerRule(
            scope,
            construct_id,
            listener_arn=self.listener.listener_arn,
            priority=priority,
            conditions=[_paths([path])],
            actions=[
                elbv2.CfnListenerRule.ActionProperty(
                    type="forward",
                    forward_config=elbv2.CfnListenerRule.ForwardConfigProperty(
                        target_groups=[
                            elbv2.CfnListenerRule.TargetGroupTupleProperty(
                                target_group_arn=self.target_group.target_group_arn, weight=1
                            ),
                            elbv2.CfnListenerRule.TargetGroupTupleProperty(
                                target_group_arn=target_group.target_group_arn, weight=0
                            ),
                        ]
                    ),
                )
            ],
        )

    def route(
        self,
        scope: Construct,
        construct_id: str,
        *,
        paths: list[str],
        target_group: elbv2.IApplicationTargetGroup,
        priority: int,
        once_serving: Construct,
    ) -> elbv2.CfnListenerRule:
        """Send requests for `paths` to `target_group`, created only after `once_serving` (the
        service whose tasks fill the group) is stable, so the rule never points at a group
        without healthy targets. The rule is created in `scope`, the target group's stack, so
        this stack never references it. Both rules are L1 on purpose: the L2 rule would make
        the service (and the web tier's request-count scaling) wait for the rule."""
        rule = elbv2.CfnListenerRule(
            scope,
            construct_id,
            listener_arn=self.listener.listener_arn,
            priority=priority,
            conditions=[_paths(paths)],
            actions=[
                elbv2.CfnListenerRule.ActionProperty(type="forward", target_group_arn=target_group.target_group_arn)
            ],
        )
        rule.node.add_dependency(once_serving)
        return rule

    @property
    def dns_name(self) -> str:
        return self.load_balancer.load_balancer_dns_name


def _paths(paths: list[str]) -> elbv2.CfnListenerRule.RuleConditionProperty:
    return elbv2.CfnListenerRule.RuleConditionProperty(
        field="path-pattern", path_pattern_config=elbv2.CfnListenerRule.PathPatternConfigProperty(values=paths)
    )
