"""Stage 6: services on Fargate behind the site load balancer, Cloud Map, SNS fan-out, Kinesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.stage_cache import StageCache, props, resources

pytestmark = pytest.mark.skipif(
    not (Path(__file__).resolve().parent.parent / "service" / "Dockerfile").is_file(),
    reason="stage 6 builds the services from service/Dockerfile, which is not there yet",
)


def only(stage: Any, resource_type: str) -> list[dict[str, Any]]:
    return [props(r) for r in resources(stage, resource_type).values()]


def test_fargate_services_with_spot_circuit_breaker_and_cloud_map(stages: StageCache) -> None:
    stage = stages[6]
    assert len(only(stage, "AWS::ECS::Cluster")) == 1
    (_namespace,) = only(stage, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    services = only(stage, "AWS::ECS::Service")
    assert len(services) >= 2
    for service in services:
        providers = {s["CapacityProvider"] for s in service["CapacityProviderStrategy"]}
        assert providers == {"FARGATE", "FARGATE_SPOT"}
        assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert service["ServiceRegistries"] and service["LoadBalancers"]
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    registered = {s["Name"] for s in only(stage, "AWS::ServiceDiscovery::Service")}
    assert registered == {"users", "posts"}
    assert len(only(stage, "AWS::ApplicationAutoScaling::ScalableTarget")) == len(services)


def test_the_site_load_balancer_routes_paths_to_services_and_the_rest_to_the_web_tier(stages: StageCache) -> None:
    rules = only(stages[6], "AWS::ElasticLoadBalancingV2::ListenerRule")
    holds = [r for r in rules if "ForwardConfig" in r["Actions"][0]]
    routed = [r for r in rules if r not in holds]
    assert len(routed) == 4 and len(holds) == 2
    assert max(r["Priority"] for r in routed) < min(r["Priority"] for r in holds), "routes win over the hold rules"
    for rule in routed:
        assert [c["Field"] for c in rule["Conditions"]] == ["path-pattern"]
        assert [a["Type"] for a in rule["Actions"]] == ["forward"]
    compute = stages[6].templates["scaling-compute"]["Resources"]
    listener = next(
        r["Properties"]
        for logical_id, r in compute.items()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener" and logical_id.startswith("SiteLoadBalancer")
    )
    (default,) = listener["DefaultActions"]
    web_tier = next(
        r["Properties"]
        for logical_id, r in compute.items()
        if r["Type"] == "AWS::AutoScaling::AutoScalingGroup" and logical_id.startswith("WebTier")
    )
    assert web_tier["TargetGroupARNs"] == [default["TargetGroupArn"]], "whatever no rule matches goes to the web tier"
    assert not only(stages[5], "AWS::ElasticLoadBalancingV2::ListenerRule")


def test_post_events_fan_out_to_queues(stages: StageCache) -> None:
    stage = stages[6]
    assert len(only(stage, "AWS::SNS::Topic")) >= 2, "the alarm topic and the event topic"
    subscriptions = [s for s in only(stage, "AWS::SNS::Subscription") if s["Protocol"] == "sqs"]
    assert subscriptions
    for subscription in subscriptions:
        assert subscription["RawMessageDelivery"] is True
        assert subscription["FilterPolicyScope"] == "MessageBody"


def test_activity_stream_and_its_consumer(stages: StageCache) -> None:
    template = stages[6].templates["scaling-async"]["Resources"]
    (stream_id,) = [k for k, r in template.items() if r["Type"] == "AWS::Kinesis::Stream"]
    assert props(template[stream_id])["StreamEncryption"]["EncryptionType"] == "KMS"
    (mapping,) = [
        props(r)
        for r in template.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and props(r)["EventSourceArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    ]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "Arn" in str(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert mapping["MaximumBatchingWindowInSeconds"] > 0
    functions = only(stages[6], "AWS::Lambda::Function")
    assert all(f["TracingConfig"] == {"Mode": "Active"} for f in functions if f.get("Layers"))
