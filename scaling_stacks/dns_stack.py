from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from scaling_stacks.compute_stack import BOX_PUBLIC_REASON, ComputeStack
from scaling_stacks.config import StageConfig
from scaling_stacks.edge_stack import EdgeStack
from scaling_stacks.stack_props import StackProps

# Resolvers may keep a record this long after it changes: it bounds how long viewers still reach
# the stage-0 box by its address once the record points at CloudFront (alias records have no TTL).
DNS_TTL = cdk.Duration.seconds(60)


class DnsStack(cdk.Stack):
    """The site's Route 53 records. They live in a stack of their own, deployed last,
    so the same record changes its target in place (the box's IP at stage 0, CloudFront
    from stage 1) instead of moving between stacks, which would delete and recreate it.
    At stage 0 it also opens the box to the internet, so that at 0->1 the box closes only
    after the record has moved."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        compute: ComputeStack,
        edge: EdgeStack | None,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        assert config.domain_name and config.hosted_zone_id and config.hosted_zone_name
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
        )
        if edge is not None:
            target = route53.RecordTarget.from_alias(targets.CloudFrontTarget(edge.distribution))
            route53.AaaaRecord(self, "SiteIpv6", zone=zone, record_name=config.domain_name, target=target)
        else:
            assert compute.box_public_ip is not None, "without an edge the single box serves the site"
            target = route53.RecordTarget.from_ip_addresses(compute.box_public_ip)
        record = route53.ARecord(self, "Site", zone=zone, record_name=config.domain_name, target=target, ttl=DNS_TTL)
        for port in compute.box_public_ports:
            assert compute.box_security_group is not None
            rule = ec2.CfnSecurityGroupIngress(
                self,
                f"BoxPublic{port}",
                group_id=compute.box_security_group.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ip="0.0.0.0/0",
                description=f"web traffic on {port}",
            )
            # Opened once the record names the box, closed (at 0->1) only after it has moved.
            rule.node.add_dependency(record.node.default_child)
            acknowledge(rule, "AwsSolutions-EC23", BOX_PUBLIC_REASON)
