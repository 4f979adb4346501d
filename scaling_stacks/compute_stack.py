from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.cloudfront_prefix_list import CloudFrontOriginFacingPrefixList
from constructs_lib.load_balancer import TierLoadBalancer
from constructs_lib.tier import ServiceTier
from constructs_lib.user_data import add_reverse_proxy, placeholder_page
from constructs_lib.web_server import SingleWebServer
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack

ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


class ComputeStack(cdk.Stack):
    """Where requests are served: the single box (stages 0-1), then a web tier behind a
    public load balancer and an app tier behind an internal one (stage 2+).
    `origin` is what CloudFront should send dynamic requests to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        data: DataStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        self._network = network
        self._data = data
        self.origin: cloudfront.IOrigin | None = None
        self.origin_plain_http_reason: str | None = None
        self.box: SingleWebServer | None = None
        cloudfront_only = CloudFrontOriginFacingPrefixList(self, "CloudFrontPrefixList") if config.has_edge else None
        if config.has_single_box:
            self._add_single_box(cloudfront_only)
        if config.has_tiers:
            assert cloudfront_only is not None, "the tiers only ever sit behind CloudFront"
            self._add_tiers(cloudfront_only)

    def _add_single_box(self, cloudfront_only: CloudFrontOriginFacingPrefixList | None) -> None:
        config = self._config
        if cloudfront_only:
            ingress = [(cloudfront_only.peer, ec2.Port.tcp(80))]
        else:
            ingress = [(ec2.Peer.any_ipv4(), ec2.Port.tcp(80)), (ec2.Peer.any_ipv4(), ec2.Port.tcp(443))]
        box = SingleWebServer(
            self,
            "Box",
            vpc=self._network.vpc,
            subnets=self._network.network.public_subnets,
            instance_type=config.box_instance_type,
            user_data=placeholder_page(title=f"{config.app_name}: stage {config.stage} ({config.stage_name})"),
            ingress=ingress,
        )
        if not cloudfront_only:
            acknowledge(
                box.security_group,
                "AwsSolutions-EC23",
                "At stage 0 the single box is the public web server: HTTP/HTTPS (80/443 only) "
                "must be open to everyone; from stage 1 only CloudFront reaches it.",
            )
        box.connections.allow_to_default_port(self._data.primary, "box to database")
        self._data.primary.secret.grant_read(box.role)
        self.box = box
        self.origin = origins.HttpOrigin(
            _ec2_public_dns_name(box.public_ip, config.region),
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
        )
        self.origin_plain_http_reason = (
            "The stage-1 single box has no TLS certificate of its own; it accepts port 80 "
            "only from CloudFront's origin-facing addresses, and HTTPS ends at CloudFront."
        )
        cdk.CfnOutput(self, "BoxPublicIp", value=box.public_ip)

    def _add_tiers(self, cloudfront_only: CloudFrontOriginFacingPrefixList) -> None:
        config = self._config
        network = self._network
        notifications = [autoscaling.NotificationConfiguration(topic=network.alarms)]
        app = ServiceTier(
            self,
            "AppTier",
            vpc=network.vpc,
            subnets=network.network.app_subnets,
            instance_type=config.app_instance_type,
            user_data=placeholder_page(
                title=f"{config.app_name}: app tier, stage {config.stage} ({config.stage_name})"
            ),
            min_capacity=config.app_capacity.min,
            max_capacity=config.app_capacity.max,
            desired_capacity=config.app_capacity.desired,
            notifications=notifications,
            description="App tier",
        )
        web_user_data = ec2.UserData.for_linux()
        web = ServiceTier(
            self,
            "WebTier",
            vpc=network.vpc,
            subnets=network.network.app_subnets,
            instance_type=config.web_instance_type,
            user_data=web_user_data,
            min_capacity=config.web_capacity.min,
            max_capacity=config.web_capacity.max,
            desired_capacity=config.web_capacity.desired,
            notifications=notifications,
            description="Web tier (reverse proxy)",
        )
        internal = TierLoadBalancer(
            self,
            "InternalLoadBalancer",
            vpc=network.vpc,
            subnets=network.network.app_subnets,
            internet_facing=False,
            target_group=app.group,
            log_bucket=network.logs,
            log_prefix="alb/internal",
        )
        web.connections.allow_to_default_port(internal.listener, "web tier to internal load balancer")
        add_reverse_proxy(web_user_data, upstream=internal.dns_name)
        origin_verify = secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description="Header value CloudFront adds so the public load balancer can reject direct requests",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        )
        acknowledge(
            origin_verify,
            "AwsSolutions-SMG4",
            "The origin-verify header value is written into CloudFront and the ALB rule at "
            "deploy time; rotating it needs both updated together, so it is rotated by "
            "redeploying, and it is defence in depth behind the CloudFront-only prefix list.",
        )
        public = TierLoadBalancer(
            self,
            "PublicLoadBalancer",
            vpc=network.vpc,
            subnets=network.network.public_subnets,
            internet_facing=True,
            allowed_peer=cloudfront_only.peer,
            target_group=web.group,
            log_bucket=network.logs,
            log_prefix="alb/public",
            certificate_arn=config.certificate_arn,
            required_header=(ORIGIN_VERIFY_HEADER, origin_verify.secret_value.unsafe_unwrap()),
        )
        app.connections.allow_to_default_port(self._data.primary, "app tier to database")
        self._data.primary.secret.grant_read(app.role)
        origin_domain = public.dns_name
        if config.alb_https and config.has_dns:
            assert config.hosted_zone_id and config.hosted_zone_name and config.domain_name
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
            )
            origin_record = route53.ARecord(
                self,
                "OriginRecord",
                zone=zone,
                record_name=f"origin.{config.domain_name}",
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(public.load_balancer)),
            )
            origin_domain = origin_record.domain_name
        self.origin = origins.HttpOrigin(
            origin_domain,
            protocol_policy=(
                cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                if config.alb_https
                else cloudfront.OriginProtocolPolicy.HTTP_ONLY
            ),
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            custom_headers={ORIGIN_VERIFY_HEADER: origin_verify.secret_value.unsafe_unwrap()},
        )
        if not config.alb_https:
            self.origin_plain_http_reason = (
                "No certificate_arn is configured, so the ALB has no certificate to serve; it "
                "accepts only CloudFront's origin-facing addresses carrying the secret "
                "origin-verify header. Set domain_name and certificate_arn for HTTPS to the origin."
            )
        cdk.CfnOutput(self, "PublicLoadBalancerDns", value=public.dns_name)
        self.web_tier = web
        self.app_tier = app
        self.internal_load_balancer = internal


def _ec2_public_dns_name(ip: str, region: str) -> str:
    """The public DNS name EC2 gives an Elastic IP; CloudFront origins need a name, not an IP."""
    dashed = cdk.Fn.join("-", cdk.Fn.split(".", ip))
    suffix = "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"
    return f"ec2-{dashed}.{suffix}"
