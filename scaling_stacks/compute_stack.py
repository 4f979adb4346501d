from __future__ import annotations

from pathlib import Path
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.app_config import PARAMETER_VARIABLE, AppConfigParameter
from constructs_lib.aws_config import SecurityConfigRules
from constructs_lib.cloudfront_prefix_list import CloudFrontOriginFacingPrefixList
from constructs_lib.load_balancer import TierLoadBalancer
from constructs_lib.observability import StageMonitoring
from constructs_lib.python_function import ASSET_EXCLUDES
from constructs_lib.tier import ServiceTier, SpotMix, spot_instance_types
from constructs_lib.user_data import add_reverse_proxy, install_service
from constructs_lib.web_server import SingleWebServer
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.service_wiring import RDS_CA_FILE, ServiceDependencies
from scaling_stacks.stack_props import StackProps

SERVICE_DIR = Path(__file__).resolve().parent.parent / "service"
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"
WEB_TIER_PRIORITY_BEHIND_SERVICES = 1000
# About 80% of MySQL's default max_connections on the stage 2+ default class (m7g.large).
DB_CONNECTIONS_ALARM = 500


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
        cache: CacheStack | None = None,
        async_layer: AsyncStack | None = None,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        self._network = network
        self._data = data
        self._cache = cache
        self._dependencies = ServiceDependencies(config=config, data=data, cache=cache, async_layer=async_layer)
        self.app_config = AppConfigParameter(self, "AppConfig", variables=self._dependencies.environment(self.region))
        # The service's code for the EC2 hosts; a change to it rolls the hosts (user data changes).
        self._bundle = s3_assets.Asset(self, "ServiceBundle", path=str(SERVICE_DIR), exclude=ASSET_EXCLUDES)
        self.monitoring = StageMonitoring(
            self,
            "Monitoring",
            topic=network.alarms,
            name_prefix=config.stack_prefix,
            dashboard=config.has_full_observability,
        )
        self._monitor_data()
        self.origin: cloudfront.IOrigin | None = None
        self.origin_plain_http_reason: str | None = None
        self.box: SingleWebServer | None = None
        cloudfront_only = CloudFrontOriginFacingPrefixList(self, "CloudFrontPrefixList") if config.has_edge else None
        if config.has_single_box:
            self._add_single_box(cloudfront_only)
        if config.has_tiers:
            assert cloudfront_only is not None, "the tiers only ever sit behind CloudFront"
            self._add_tiers(cloudfront_only)
        if config.has_aws_config:
            SecurityConfigRules(self, "AwsConfig", log_bucket=network.logs)

    def _service_user_data(self) -> ec2.UserData:
        return install_service(
            bundle_url=self._bundle.s3_object_url,
            environment={PARAMETER_VARIABLE: self.app_config.parameter_name, "AWS_REGION": self.region},
            rds_ca_file=RDS_CA_FILE,
        )

    def _wire_app_host(self, host: ec2.IConnectable, role: iam.IRole) -> None:
        """Let a host that runs the service fetch it, reach its data and read its configuration and secrets."""
        self._dependencies.grant(host, role, label="app")
        self.app_config.grant_read(role)
        # Only the bundle's own object: the asset grant would open the whole bootstrap bucket.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self._bundle.bucket.arn_for_objects(self._bundle.s3_object_key)],
            )
        )

    def _monitor_data(self) -> None:
        config = self._config
        monitoring = self.monitoring
        max_connections = DB_CONNECTIONS_ALARM if config.has_full_observability else None
        monitoring.monitor_database(
            name="Primary", instance=self._data.primary.instance, max_connections=max_connections
        )
        if self._data.replicas is not None:
            for index, replica in enumerate(self._data.replicas.replicas, start=1):
                monitoring.monitor_replica_lag(name=f"Replica{index}", instance=replica)
                if config.has_full_observability:
                    # Replicas take the read load: they saturate before the primary does.
                    monitoring.monitor_database(
                        name=f"Replica{index}", instance=replica, max_connections=max_connections
                    )
        if self._cache is not None and config.has_full_observability:
            monitoring.monitor_cache(name="Cache", node_ids=self._cache.cache.member_cluster_ids)

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
            user_data=self._service_user_data(),
            ingress=ingress,
        )
        if not cloudfront_only:
            acknowledge(
                box.security_group,
                "AwsSolutions-EC23",
                "At stage 0 the single box is the public web server: HTTP/HTTPS (80/443 only) "
                "must be open to everyone; from stage 1 only CloudFront reaches it.",
            )
        self._wire_app_host(box, box.role)
        self.monitoring.monitor_instance_status(name="Box", instance_id=box.instance.instance_id)
        self.box = box
        # Published as a parameter so the edge stack reads one finished name: an Fn::Split
        # over another stack's output is not something cfn-lint (or every tool) accepts.
        origin_domain = ssm.StringParameter(
            self,
            "BoxOriginDomain",
            description="Public DNS name of the single box, CloudFront's origin",
            string_value=_ec2_public_dns_name(box.public_ip, config.region),
        )
        self.origin = origins.HttpOrigin(
            origin_domain.string_value,
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
            user_data=self._service_user_data(),
            min_capacity=config.app_capacity.min,
            max_capacity=config.app_capacity.max,
            desired_capacity=config.app_capacity.desired,
            spot=self._spot_mix(config.app_instance_type) if config.has_spot else None,
            xray_daemon=config.has_full_observability,
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
            spot=self._spot_mix(config.web_instance_type) if config.has_spot and config.web_spot else None,
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
            removal_policy=cdk.RemovalPolicy.RETAIN,
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
            # Stage 6 routes API paths to the services with rules that must be evaluated
            # first; the web tier's rule moves behind them (an in-place rule update).
            forward_priority=WEB_TIER_PRIORITY_BEHIND_SERVICES if config.has_microservices else 1,
        )
        self.public_load_balancer = public
        self._wire_app_host(app, app.role)
        for tier_name, tier, capacity, load_balancer in (
            ("WebTier", web, config.web_capacity, public),
            ("AppTier", app, config.app_capacity, internal),
        ):
            if config.elastic_compute and capacity.elastic:
                tier.scale_elastically(peak_utc=config.scheduled_peak)
            if config.has_full_observability:
                self.monitoring.monitor_tier(
                    name=tier_name, group=tier.group, min_capacity=capacity.min, max_capacity=capacity.max
                )
                self.monitoring.monitor_load_balancer(
                    name=f"{tier_name}LoadBalancer",
                    load_balancer=load_balancer.load_balancer,
                    target_group=load_balancer.target_group,
                )
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

    def _spot_mix(self, instance_type: str) -> SpotMix:
        config = self._config
        return SpotMix(
            on_demand_base=config.on_demand_base,
            spot_percentage=config.spot_percentage,
            instance_types=spot_instance_types(instance_type),
        )


def _ec2_public_dns_name(ip: str, region: str) -> str:
    """The public DNS name EC2 gives an Elastic IP; CloudFront origins need a name, not an IP."""
    dashed = cdk.Fn.join("-", cdk.Fn.split(".", ip))
    suffix = "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"
    return f"ec2-{dashed}.{suffix}"
