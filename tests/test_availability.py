"""Private origins, and the stage plan's availability analysis: every adjacent upgrade keeps
viewers on a healthy origin, and the analysis catches each hazard on small apps built to hold it."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53

from scaling_stacks.assembly import SynthesizedStage
from tests.small_apps import synth
from tests.stage_cache import ALL_STAGES, DOMAIN_CONTEXT, StageCache, props, resources
from tools.stage_plan import AppTemplates, Plan, build_plan, plan_stages
from tools.stage_plan.__main__ import parse_args
from tools.stage_plan.render import to_json, to_markdown, to_text

UPGRADES = [(stage, stage + 1) for stage in ALL_STAGES[:-1]]
WEAK = {"@aws-cdk/core:defaultCrossStackReferences": "weak"}


def _opens_to_everyone(stage: SynthesizedStage) -> list[str]:
    found = []
    for name, resource in {
        **resources(stage, "AWS::EC2::SecurityGroup"),
        **resources(stage, "AWS::EC2::SecurityGroupIngress"),
    }.items():
        rules = props(resource).get("SecurityGroupIngress", [props(resource)])
        found += [name for rule in rules if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0"]
    return found


@pytest.mark.parametrize("stage_number", ALL_STAGES[1:])
def test_from_stage_1_no_origin_is_reachable_from_the_internet(stages: StageCache, stage_number: int) -> None:
    stage = stages[stage_number]
    assert resources(stage, "AWS::CloudFront::VpcOrigin")
    schemes = [props(lb)["Scheme"] for lb in resources(stage, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()]
    assert schemes and set(schemes) == {"internal"}
    assert not _opens_to_everyone(stage)


def test_stage_0_box_is_the_public_web_server(stages: StageCache) -> None:
    assert sorted(_opens_to_everyone(stages[0])) == ["scaling-compute/BoxSecurityGroup794CE086"] * 2
    assert not resources(stages[0], "AWS::CloudFront::VpcOrigin")


def test_the_private_origin_check_catches_an_open_group(stages: StageCache) -> None:
    templates = copy.deepcopy(dict(stages[2].templates))
    group = next(
        r for r in templates["scaling-compute"]["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroup"
    )
    group["Properties"]["SecurityGroupIngress"] = [{"CidrIpv6": "::/0", "IpProtocol": "tcp", "FromPort": 80}]
    assert len(_opens_to_everyone(dataclasses.replace(stages[2], templates=templates))) == 1


def test_autoscaled_services_carry_no_desired_count(stages: StageCache) -> None:
    stage = stages[6]
    services = resources(stage, "AWS::ECS::Service")
    scaled = json.dumps(resources(stage, "AWS::ApplicationAutoScaling::ScalableTarget"))
    assert len(services) == 2
    for name, service in services.items():
        assert name.split("/")[1] in scaled and "DesiredCount" not in props(service), name


def test_service_routes_wait_for_their_services_and_hold_rules_send_them_nothing(stages: StageCache) -> None:
    services = stages[6].templates["scaling-services"]["Resources"]
    rules = {k: r for k, r in services.items() if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"}
    holds = {k: r for k, r in rules.items() if k.startswith("Hold")}
    assert len(holds) == 2 and len(rules) == 6
    for logical_id, rule in rules.items():
        if logical_id in holds:
            weights = [g["Weight"] for g in rule["Properties"]["Actions"][0]["ForwardConfig"]["TargetGroups"]]
            assert weights == [1, 0], logical_id
            continue
        group = rule["Properties"]["Actions"][0]["TargetGroupArn"]["Ref"]
        filler = next(
            k for k, r in services.items() if r["Type"] == "AWS::ECS::Service" and group in json.dumps(r["Properties"])
        )
        assert filler in rule["DependsOn"], logical_id
        assert any(hold in services[filler]["DependsOn"] for hold in holds), filler


def _plan(before: Any, after: Any) -> Plan:
    return build_plan(before, after, before_label="a", after_label="b", direction="upgrade", destroy_context="")


@pytest.mark.parametrize(("before", "after"), UPGRADES, ids=[f"{a}->{b}" for a, b in UPGRADES])
def test_every_adjacent_upgrade_keeps_viewers_on_a_healthy_origin(stages: StageCache, before: int, after: int) -> None:
    plan = plan_stages(stages[before], stages[after], before, after)
    document = json.loads(to_json(plan))
    assert document["outage_windows"] == [], to_text(plan)
    assert "0 outage window(s)" in plan.verdict and plan.exit_code == 0


def test_without_a_domain_0_to_1_warns_that_the_address_changes(stages: StageCache) -> None:
    plan = plan_stages(stages[0], stages[1], 0, 1)
    (change,) = [f for f in plan.findings if f.kind == "address-change"]
    assert change.severity == "warning" and change.subject == "scaling-compute/BoxSecurityGroup794CE086"
    assert "CloudFront domain" in change.message and "domain_name" in change.message


def _without_dependency(stage: SynthesizedStage, stack: str, logical_id: str) -> SynthesizedStage:
    templates = copy.deepcopy(dict(stage.templates))
    templates[stack]["Resources"][logical_id].pop("DependsOn")
    return dataclasses.replace(stage, templates=templates)


def test_a_real_route_created_before_its_service_is_a_window(stages: StageCache) -> None:
    broken = _without_dependency(stages[6], "scaling-services", "Route10")
    windows = plan_stages(stages[5], broken, 5, 6).outage_windows
    assert [(w.stack, w.resource) for w in windows] == [("scaling-services", "scaling-services/Route10")]
    assert "before anything fills it" in windows[0].cause


def test_a_real_listener_moved_before_the_web_tier_exists_is_a_window(stages: StageCache) -> None:
    listener = next(
        k for k in stages[2].templates["scaling-compute"]["Resources"] if k.startswith("SiteLoadBalancerListener2")
    )
    windows = plan_stages(stages[1], _without_dependency(stages[2], "scaling-compute", listener), 1, 2).outage_windows
    assert [w.resource for w in windows] == [f"scaling-compute/{listener}"]


def test_with_a_domain_0_to_1_closes_the_box_only_after_dns_moved(stages: StageCache) -> None:
    before, after = stages.variant(0, DOMAIN_CONTEXT), stages.variant(1, DOMAIN_CONTEXT)
    record = props(next(iter(resources(before, "AWS::Route53::RecordSet").values())))
    assert int(record["TTL"]) <= 60
    plan = plan_stages(before, after, 0, 1)
    assert not plan.outage_windows and plan.exit_code == 0
    assert {(g.stack, g.bound_seconds) for g in plan.bounded_gaps} == {("scaling-dns", 60)}
    assert "1 gap(s) only AWS can bound" in plan.verdict


# -- small apps, each holding one availability hazard -------------------------------------------


def _edge_apps(app: cdk.App, *, after: bool, fixed: bool) -> None:
    """compute serves a box (public at first) and a load balancer; edge's CDN uses the load
    balancer; dns names the box. After: the record moves away, the box closes, the CDN moves
    to a new load balancer. `fixed` orders it safely: the record's stack opens the box, the
    old load balancer stays until a later deploy."""
    compute, edge, dns = (cdk.Stack(app, name) for name in ("compute", "edge", "dns"))
    open_inline = not after and not fixed
    world = {"ip_protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_ip": "0.0.0.0/0"}
    group = ec2.CfnSecurityGroup(
        compute,
        "BoxGroup",
        group_description="box",
        security_group_ingress=[ec2.CfnSecurityGroup.IngressProperty(**world)] if open_inline else None,
    )
    box = ec2.CfnInstance(compute, "Box", image_id="ami-12345678", security_group_ids=[group.attr_group_id])
    address = ec2.CfnEIP(compute, "BoxIp", instance_id=box.ref)
    names = ("OldLb", "NewLb") if after and fixed else ("NewLb",) if after else ("OldLb",)
    balancers = {name: elbv2.CfnLoadBalancer(compute, name, scheme="internal") for name in names}
    origin = balancers["NewLb" if after else "OldLb"]
    cloudfront.CfnDistribution(
        edge,
        "Cdn",
        distribution_config=cloudfront.CfnDistribution.DistributionConfigProperty(
            enabled=True,
            origins=[
                cloudfront.CfnDistribution.OriginProperty(
                    id="site",
                    domain_name=origin.attr_dns_name,
                    custom_origin_config=cloudfront.CfnDistribution.CustomOriginConfigProperty(
                        origin_protocol_policy="http-only"
                    ),
                )
            ],
            default_cache_behavior=cloudfront.CfnDistribution.DefaultCacheBehaviorProperty(
                target_origin_id="site", viewer_protocol_policy="redirect-to-https"
            ),
        ),
    )
    route53.CfnRecordSet(
        dns,
        "Site",
        name="www.example.com.",
        type="A",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        ttl="60",
        resource_records=["192.0.2.10" if after else address.attr_public_ip],
    )
    if fixed and not after:
        ec2.CfnSecurityGroupIngress(dns, "BoxPublic", group_id=group.attr_group_id, **world)


def _route_app(app: cdk.App, *, after: bool, service_first: bool | None) -> None:
    """A listener on a web tier; after: a path rule to an API target group that an ECS service
    fills (created before the rule when `service_first`), or that nothing fills (None)."""
    stack = cdk.Stack(app, "compute")
    balancer = elbv2.CfnLoadBalancer(stack, "Lb", scheme="internal")
    web = elbv2.CfnTargetGroup(stack, "Web", port=80, protocol="HTTP", vpc_id="vpc-12345678")
    autoscaling.CfnAutoScalingGroup(stack, "WebHosts", min_size="2", max_size="2", target_group_arns=[web.ref])
    listener = elbv2.CfnListener(
        stack,
        "Listener",
        load_balancer_arn=balancer.ref,
        port=80,
        protocol="HTTP",
        default_actions=[elbv2.CfnListener.ActionProperty(type="forward", target_group_arn=web.ref)],
    )
    if not after:
        return
    api = elbv2.CfnTargetGroup(stack, "Api", port=8080, protocol="HTTP", target_type="ip", vpc_id="vpc-12345678")
    rule = elbv2.CfnListenerRule(
        stack,
        "ApiRoute",
        listener_arn=listener.ref,
        priority=10,
        conditions=[
            elbv2.CfnListenerRule.RuleConditionProperty(
                field="path-pattern",
                path_pattern_config=elbv2.CfnListenerRule.PathPatternConfigProperty(values=["/api/*"]),
            )
        ],
        actions=[elbv2.CfnListenerRule.ActionProperty(type="forward", target_group_arn=api.ref)],
    )
    if service_first is not None:
        service = ecs.CfnService(
            stack,
            "ApiService",
            load_balancers=[
                ecs.CfnService.LoadBalancerProperty(target_group_arn=api.ref, container_name="app", container_port=8080)
            ],
        )
        if service_first:
            rule.node.add_dependency(service)


@pytest.fixture(scope="module")
def small_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AppTemplates]:
    root = tmp_path_factory.mktemp("availability")
    builds = {
        "edge-before": lambda app: _edge_apps(app, after=False, fixed=False),
        "edge-after": lambda app: _edge_apps(app, after=True, fixed=False),
        "edge-fixed-before": lambda app: _edge_apps(app, after=False, fixed=True),
        "edge-fixed-after": lambda app: _edge_apps(app, after=True, fixed=True),
        "route-before": lambda app: _route_app(app, after=False, service_first=False),
        "route-early": lambda app: _route_app(app, after=True, service_first=False),
        "route-safe": lambda app: _route_app(app, after=True, service_first=True),
        "route-empty": lambda app: _route_app(app, after=True, service_first=None),
    }
    return {name: synth(root / name, build, WEAK) for name, build in builds.items()}


def _windows(plan: Plan) -> dict[str, str]:
    return {window.resource: window.cause for window in plan.outage_windows}


def test_catches_a_security_group_narrowed_before_dns_moved(small_apps: dict[str, AppTemplates]) -> None:
    plan = _plan(small_apps["edge-before"], small_apps["edge-after"])
    assert _windows(plan)["compute/BoxGroup"] == "narrowed (ingress removed) while dns/Site still use it"
    assert plan.exit_code == 1 and "OUTAGE" in plan.verdict


def test_catches_an_origin_deleted_before_the_edge_moved(small_apps: dict[str, AppTemplates]) -> None:
    plan = _plan(small_apps["edge-before"], small_apps["edge-after"])
    assert _windows(plan)["compute/OldLb"] == "deleted while edge/Cdn still use it"
    assert set(_windows(plan)) == {"compute/BoxGroup", "compute/OldLb"}


def test_windows_reach_every_format_and_can_be_accepted(small_apps: dict[str, AppTemplates]) -> None:
    before, after = small_apps["edge-before"], small_apps["edge-after"]
    plan = _plan(before, after)
    assert "OUTAGE compute compute/OldLb: deleted while edge/Cdn still use it" in to_text(plan)
    assert "#### Availability, step by step in deploy order" in to_markdown(plan)
    assert [w["resource"] for w in json.loads(to_json(plan))["outage_windows"]] == [
        w.resource for w in plan.outage_windows
    ]
    accepted = build_plan(
        before, after, before_label="a", after_label="b", direction="upgrade", destroy_context="", allow_outage=True
    )
    assert accepted.exit_code == 0 and "accepted with --allow-outage" in accepted.verdict
    assert parse_args(["--from", "0", "--to", "1", "--allow-outage"]).allow_outage


def test_the_safe_order_leaves_only_the_dns_ttl(small_apps: dict[str, AppTemplates]) -> None:
    plan = _plan(small_apps["edge-fixed-before"], small_apps["edge-fixed-after"])
    assert not plan.outage_windows and plan.exit_code == 0
    assert [(g.stack, g.resource, g.bound_seconds) for g in plan.bounded_gaps] == [("dns", "compute/BoxGroup", 60)]


def test_catches_a_route_to_a_target_group_before_its_targets(small_apps: dict[str, AppTemplates]) -> None:
    before = small_apps["route-before"]
    early = _plan(before, small_apps["route-early"])
    assert _windows(early) == {"compute/ApiRoute": "routes to compute/Api before anything fills it"}
    assert not _plan(before, small_apps["route-safe"]).outage_windows


def test_catches_a_route_to_a_target_group_nothing_fills(small_apps: dict[str, AppTemplates]) -> None:
    plan = _plan(small_apps["route-before"], small_apps["route-empty"])
    assert sorted((w.resource, w.cause) for w in plan.outage_windows) == [
        ("compute/ApiRoute", "routes to compute/Api before anything fills it"),
        ("compute/ApiRoute", "routes to compute/Api, which nothing fills"),
    ]
