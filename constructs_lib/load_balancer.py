from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.checkov import skip_check

HEALTH_PATH = "/health"


class TierLoadBalancer(Construct):
    """An Application Load Balancer in front of one tier: one listener (HTTPS with TLS 1.2+
    when a certificate is given, else HTTP) open only to `allowed_peer` and to whatever is
    later allowed to `listener` through its connections, invalid headers
    dropped, access logs to `log_bucket`, deletion protection, health checks on
    `HEALTH_PATH`. With `required_header` the listener forwards only requests that carry
    that header and value and answers 403 to the rest (how an origin proves a request came
    through CloudFront). `route` adds path rules to other target groups, evaluated before
    the tier's own rule when they have a lower priority than `forward_priority`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        internet_facing: bool,
        allowed_peer: ec2.IPeer | None = None,
        target_group: autoscaling.AutoScalingGroup,
        log_bucket: s3.IBucket,
        log_prefix: str,
        target_port: int = 80,
        certificate_arn: str | None = None,
        required_header: tuple[str, str] | None = None,
        forward_priority: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)
        self._required_header = required_header
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
        port = 443 if certificate_arn else 80
        self.listener = self.load_balancer.add_listener(
            "Listener",
            port=port,
            open=False,
            protocol=elbv2.ApplicationProtocol.HTTPS if certificate_arn else elbv2.ApplicationProtocol.HTTP,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)] if certificate_arn else None,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if certificate_arn else None,
            default_action=elbv2.ListenerAction.fixed_response(403, content_type="text/plain", message_body="Forbidden")
            if required_header
            else None,
        )
        if not certificate_arn:
            reason = (
                "Plain HTTP because no certificate_arn is configured for this load balancer; the listener admits "
                "only the peers allowed through its security group (CloudFront's path for the front load "
                "balancer, the web tier for the internal one). Set domain_name and certificate_arn for HTTPS."
            )
            for check_id in ("CKV_AWS_2", "CKV_AWS_103"):
                skip_check(self.listener, check_id, reason)
        if allowed_peer is not None:
            self.security_group.add_ingress_rule(allowed_peer, ec2.Port.tcp(port), "clients of this tier")
        targets = self.listener.add_targets(
            "Targets",
            port=target_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[target_group],
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH, healthy_threshold_count=2, interval=cdk.Duration.seconds(15)
            ),
            deregistration_delay=cdk.Duration.seconds(30),
            conditions=[elbv2.ListenerCondition.http_header(required_header[0], [required_header[1]])]
            if required_header
            else None,
            priority=forward_priority if required_header else None,
        )
        self.target_group = targets

    def route(
        self,
        scope: Construct,
        construct_id: str,
        *,
        paths: list[str],
        target_group: elbv2.IApplicationTargetGroup,
        priority: int,
    ) -> elbv2.ApplicationListenerRule:
        """Send requests for `paths` (carrying the required header, if any) to `target_group`.
        The rule is created in `scope`, the target group's stack, so this stack never
        references it; `priority` must be below the tier's `forward_priority`."""
        conditions = [elbv2.ListenerCondition.path_patterns(paths)]
        if self._required_header:
            name, value = self._required_header
            conditions.append(elbv2.ListenerCondition.http_header(name, [value]))
        return elbv2.ApplicationListenerRule(
            scope,
            construct_id,
            listener=self.listener,
            priority=priority,
            conditions=conditions,
            target_groups=[target_group],
        )

    @property
    def dns_name(self) -> str:
        return self.load_balancer.load_balancer_dns_name
