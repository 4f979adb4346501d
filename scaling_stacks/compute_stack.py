from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.app_config import PARAMETER_VARIABLE, AppConfigParameter
from constructs_lib.aws_config import SecurityConfigRules
from constructs_lib.checkov import skip_check
from constructs_lib.cloudfront_prefix_list import CloudFrontOriginFacingPrefixList
from constructs_lib.data_key import DataKey
from constructs_lib.load_balancer import TierLoadBalancer
from constructs_lib.observability import StageMonitoring
from constructs_lib.service_bundle import service_bundle
from constructs_lib.telemetry import ServiceTelemetry
from constructs_lib.tier import ServiceTier, SpotMix, spot_instance_types
from constructs_lib.user_data import add_exported_certificate, add_reverse_proxy, boot_script, install_service
from constructs_lib.web_server import SingleWebServer
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.config import STAGE_NAMES, Capacity, StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.service_wiring import RDS_CA_FILE, ServiceDependencies
from scaling_stacks.stack_props import StackProps
from scaling_stacks.stage_signals import stage_signals

PUBLIC_PORTS = (80, 443)
BOX_PUBLIC_REASON = (
    "At stage 0 the single box is the public web server: HTTP/HTTPS (80/443 only) must be open "
    "to everyone; from stage 1 only the site's internal load balancer reaches it."
)
# About 80% of MySQL's default max_connections on the stage 2+ default class (m8g.large).
DB_CONNECTIONS_ALARM = 500


# Why the VPC origin may speak plain HTTP to the site's load balancer.
PLAIN_HTTP_ORIGIN_REASON = (
    "CloudFront reaches the internal load balancer through a VPC origin, inside the VPC "
    "and never across the internet; without certificate_arn the load balancer has no "
    "certificate to serve. Set domain_name and certificate_arn for HTTPS to the origin."
)


class ComputeStack(cdk.Stack):
    """Where requests are served: the single box (stages 0-1, public at stage 0, behind the
    site's internal load balancer at stage 1), then a web tier behind that same load balancer
    and an app tier behind a second internal one (stage 2+). `origin` is what CloudFront
    should send dynamic requests to: a VPC origin for the site's load balancer."""

    # From stage 1: CloudFront's origin, and why it may be plain HTTP (None when it is HTTPS).
    origin: cloudfront.IOrigin | None
    origin_plain_http_reason: str | None
    # Stages 0-1: the box's Elastic IP and security group; the ports the DNS stack opens on it.
    box_public_ip: str | None
    box_security_group: ec2.ISecurityGroup | None
    box_public_ports: tuple[int, ...]
    # From stage 1: the services stack routes paths to its services on it.
    site_load_balancer: TierLoadBalancer | None

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
        self._app_config = AppConfigParameter(self, "AppConfig", variables=self._dependencies.environment(self.region))
        # The service's code and wheels for the EC2 hosts; a change to it rolls the hosts (user data changes).
        self._bundle = service_bundle(self, "ServiceBundle")
        self._monitoring = StageMonitoring(
            self,
            "Monitoring",
            topic=network.alarms,
            name_prefix=config.stack_prefix,
            dashboard=config.has_full_observability,
        )
        self._monitor_data()
        cloudfront_only = CloudFrontOriginFacingPrefixList(self, "CloudFrontPrefixList") if config.has_edge else None
        box = self._add_single_box(cloudfront_only) if config.has_single_box else None
        # With a domain the DNS stack, deployed last, opens the public box: at 0->1 that stack
        # moves the record to CloudFront before it drops the rules, so the box closes only after
        # DNS has moved (viewers with the old record cached lose it for at most DNS_TTL).
        self.box_public_ports = PUBLIC_PORTS if box and not cloudfront_only and config.has_dns else ()
        self.box_public_ip = box.public_ip if box else None
        self.box_security_group = box.security_group if box else None
        app_tier: ServiceTier | None = None
        site: TierLoadBalancer | None = None
        if config.has_tiers:
            assert cloudfront_only is not None, "the tiers only ever sit behind CloudFront"
            app_tier, site = self._add_tiers(cloudfront_only)
        elif box is not None and cloudfront_only is not None:
            site = self._put_box_behind_site_load_balancer(box, cloudfront_only)
        self.site_load_balancer = site
        self.origin = self._site_origin(site) if site is not None else None
        plain_http = site is not None and not config.alb_https
        self.origin_plain_http_reason = PLAIN_HTTP_ORIGIN_REASON if plain_http else None
        self._monitor_scaling_signals(box, app_tier)
        if config.has_aws_config:
            SecurityConfigRules(self, "AwsConfig", log_bucket=network.logs)

    def _service_user_data(self) -> ec2.UserData:
        return install_service(
            bundle_url=self._bundle.s3_object_url,
            environment={PARAMETER_VARIABLE: self._app_config.parameter_name, "AWS_REGION": self.region},
            rds_ca_file=RDS_CA_FILE,
            wiring_digest=self._app_config.digest,
        )

    def _wire_app_host(self, host: ec2.IConnectable, role: iam.IRole) -> None:
        """Let a host that runs the service fetch it, reach its data and read its configuration and secrets."""
        self._dependencies.grant(host, role, label="app")
        self._app_config.grant_read(role)
        # Only the bundle's own object: the asset grant would open the whole bootstrap bucket.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self._bundle.bucket.arn_for_objects(self._bundle.s3_object_key)],
            )
        )

    def _monitor_data(self) -> None:
        config = self._config
        monitoring = self._monitoring
        max_connections = DB_CONNECTIONS_ALARM if config.has_full_observability else None
        monitoring.monitor_database(
            name="Primary", instance=self._data.primary.instance, max_connections=max_connections
        )
        for index, replica in enumerate(self._data.replica_instances, start=1):
            monitoring.monitor_replica_lag(name=f"Replica{index}", instance=replica)
            if config.has_full_observability:
                # Replicas take the read load: they saturate before the primary does.
                monitoring.monitor_database(name=f"Replica{index}", instance=replica, max_connections=max_connections)
        if self._cache is not None and config.has_full_observability:
            monitoring.monitor_cache(name="Cache", node_ids=self._cache.node_ids)

    def _monitor_scaling_signals(self, box: SingleWebServer | None, app_tier: ServiceTier | None) -> None:
        config = self._config
        if config.next_stage is None:
            return
        self._monitoring.monitor_scaling_signals(
            next_stage=config.next_stage,
            next_name=STAGE_NAMES[config.next_stage],
            signals=stage_signals(
                config,
                data=self._data,
                cache=self._cache,
                box=box,
                app_group=app_tier.group if app_tier else None,
            ),
        )

    def _add_single_box(self, cloudfront_only: CloudFrontOriginFacingPrefixList | None) -> SingleWebServer:
        config = self._config
        public_ports = () if cloudfront_only else PUBLIC_PORTS
        certificate_arn = config.box_certificate_arn
        box = SingleWebServer(
            self,
            "Box",
            vpc=self._network.vpc,
            subnets=self._network.public_subnets,
            instance_type=config.box_instance_type,
            user_data=self._box_user_data(certificate_arn),
            image_name=config.host_image,
            ingress=[] if config.has_dns else [(ec2.Peer.any_ipv4(), ec2.Port.tcp(port)) for port in public_ports],
        )
        if public_ports and not config.has_dns:
            acknowledge(box.security_group, "AwsSolutions-EC23", BOX_PUBLIC_REASON)
            skip_check(box.security_group, "CKV_AWS_260", BOX_PUBLIC_REASON)
        self._wire_app_host(box, box.role)
        if certificate_arn:
            box.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["acm:ExportCertificate"], resources=[certificate_arn])
            )
        self._monitoring.monitor_instance_status(name="Box", instance_id=box.instance.instance_id)
        cdk.CfnOutput(self, "BoxPublicIp", value=box.public_ip)
        return box

    def _box_user_data(self, certificate_arn: str | None) -> ec2.UserData:
        """The service; with a certificate, HTTPS on the box itself too: at stage 0 it is the
        public web server, and at 0->1 its stage-1 successor keeps the Elastic IP, and so the
        viewers whose DNS still names it, until the DNS stack moves the record to CloudFront."""
        user_data = self._service_user_data()
        config = self._config
        if certificate_arn:
            assert config.domain_name, "the config refuses a certificate without domain_name"
            add_exported_certificate(
                user_data,
                certificate_arn=certificate_arn,
                domain_name=config.domain_name,
                # Behind CloudFront the box's HTTPS only bridges the 0->1 cut-over: a stage-1 site
                # whose certificate covers only the origin name must still deploy.
                required=not config.has_edge,
            )
        return user_data

    def _put_box_behind_site_load_balancer(
        self, box: SingleWebServer, cloudfront_only: CloudFrontOriginFacingPrefixList
    ) -> TierLoadBalancer:
        """The same instance as at stage 0 (no replacement): the site's load balancer is
        CloudFront's VPC origin and the box's only client; stage 2 points it at the web tier."""
        site = self._add_site_load_balancer(
            cloudfront_only, targets=[elbv2_targets.InstanceTarget(box.instance, 80)], targets_id="BoxTargets"
        )
        box.connections.allow_from(site.load_balancer, ec2.Port.tcp(80), "the site load balancer to the box")
        return site

    def _add_site_load_balancer(
        self,
        cloudfront_only: CloudFrontOriginFacingPrefixList,
        *,
        targets: list[elbv2.IApplicationLoadBalancerTarget],
        targets_id: str = "Targets",
    ) -> TierLoadBalancer:
        """The internal load balancer CloudFront reaches through a VPC origin, from stage 1 on:
        the same resource at every stage, so the edge never changes origin when the box goes."""
        network = self._network
        site = TierLoadBalancer(
            self,
            "SiteLoadBalancer",
            vpc=network.vpc,
            subnets=network.app_subnets,
            # VPC origin traffic arrives from CloudFront's origin-facing addresses, through
            # network interfaces CloudFront puts in these subnets; an internal load balancer
            # is reached by nothing outside the VPC but this account's own VPC origins.
            allowed_peer=cloudfront_only.peer,
            targets=targets,
            targets_id=targets_id,
            log_bucket=network.logs,
            log_prefix="alb/site",
            certificate_arn=self._config.certificate_arn,
        )
        cdk.CfnOutput(self, "SiteLoadBalancerDns", value=site.dns_name)
        return site

    def _site_origin(self, site: TierLoadBalancer) -> cloudfront.IOrigin:
        """CloudFront's VPC origin for `site`, by the origin record's name when one is configured."""
        config = self._config
        origin_domain = None
        if config.origin_domain_name:
            assert config.hosted_zone_id and config.hosted_zone_name
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
            )
            origin_record = route53.ARecord(
                self,
                "OriginRecord",
                zone=zone,
                record_name=config.origin_domain_name,
                target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(site.load_balancer)),
            )
            origin_domain = origin_record.domain_name
        return origins.VpcOrigin.with_application_load_balancer(
            site.load_balancer,
            domain_name=origin_domain,
            http_port=80,
            https_port=443,
            protocol_policy=(
                cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                if config.alb_https
                else cloudfront.OriginProtocolPolicy.HTTP_ONLY
            ),
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )

    def _add_tiers(self, cloudfront_only: CloudFrontOriginFacingPrefixList) -> tuple[ServiceTier, TierLoadBalancer]:
        """The app tier behind the internal load balancer, the web tier (a reverse proxy to it)
        behind the site's load balancer; returns the app tier and the site's load balancer."""
        config = self._config
        network = self._network
        notifications = [autoscaling.NotificationConfiguration(topic=network.alarms)]
        app = self._add_app_tier(notifications)
        internal = TierLoadBalancer(
            self,
            "InternalLoadBalancer",
            vpc=network.vpc,
            subnets=network.app_subnets,
            targets=[app.group],
            log_bucket=network.logs,
            log_prefix="alb/internal",
        )
        # Complete before the tier appends its health gate: a web host counts once a
        # deep health check answers through its proxy, the internal load balancer and the app.
        web_user_data = boot_script()
        add_reverse_proxy(web_user_data, upstream=internal.dns_name)
        web = self._tier(
            "WebTier",
            instance_type=config.web_instance_type,
            user_data=web_user_data,
            capacity=config.web_capacity,
            spot=config.has_spot and config.web_spot,
            notifications=notifications,
            description="Web tier (reverse proxy)",
        )
        # The web hosts' health gate goes through the app tier: create and roll it first.
        web.group.node.add_dependency(app.group)
        web.connections.allow_to_default_port(internal.listener, "web tier to internal load balancer")
        site = self._add_site_load_balancer(cloudfront_only, targets=[web.group])
        self._wire_app_host(app, app.role)
        self._scale_and_monitor_tier("WebTier", web, config.web_capacity, site)
        self._scale_and_monitor_tier("AppTier", app, config.app_capacity, internal)
        return app, site

    def _add_app_tier(self, notifications: list[autoscaling.NotificationConfiguration]) -> ServiceTier:
        config = self._config
        user_data = self._service_user_data()
        # Installed before the tier appends its health gate, so a host counts only with its collector.
        telemetry = (
            ServiceTelemetry(self, "Telemetry", log_key=DataKey.imported(self, self._network.data_key))
            if config.has_tracing
            else None
        )
        if telemetry is not None:
            telemetry.install_on_host(user_data=user_data, service_name=config.app_name)
        app = self._tier(
            "AppTier",
            instance_type=config.app_instance_type,
            user_data=user_data,
            capacity=config.app_capacity,
            spot=config.has_spot,
            notifications=notifications,
            description="App tier",
        )
        if telemetry is not None:
            telemetry.grant_host(app.role)
        return app

    def _tier(
        self,
        construct_id: str,
        *,
        instance_type: str,
        user_data: ec2.UserData,
        capacity: Capacity,
        spot: bool,
        notifications: list[autoscaling.NotificationConfiguration],
        description: str,
    ) -> ServiceTier:
        """A tier of hosts in the app subnets, on Spot alongside on-demand when `spot`."""
        config = self._config
        return ServiceTier(
            self,
            construct_id,
            vpc=self._network.vpc,
            subnets=self._network.app_subnets,
            instance_type=instance_type,
            user_data=user_data,
            image_name=config.host_image,
            min_capacity=capacity.min,
            max_capacity=capacity.max,
            desired_capacity=capacity.desired,
            spot=self._spot_mix(instance_type) if spot else None,
            notifications=notifications,
            description=description,
        )

    def _scale_and_monitor_tier(
        self, name: str, tier: ServiceTier, capacity: Capacity, load_balancer: TierLoadBalancer
    ) -> None:
        config = self._config
        if config.elastic_compute and capacity.elastic:
            tier.scale_elastically(peak_utc=config.scheduled_peak)
        if config.has_full_observability:
            self._monitoring.monitor_tier(
                name=name, group=tier.group, min_capacity=capacity.min, max_capacity=capacity.max
            )
            self._monitoring.monitor_load_balancer(
                name=f"{name}LoadBalancer",
                load_balancer=load_balancer.load_balancer,
                target_group=load_balancer.target_group,
            )

    def _spot_mix(self, instance_type: str) -> SpotMix:
        config = self._config
        return SpotMix(
            on_demand_base=config.on_demand_base,
            spot_percentage=config.spot_percentage,
            instance_types=spot_instance_types(instance_type),
        )
