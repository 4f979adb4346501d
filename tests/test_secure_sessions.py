"""Behind CloudFront (stage 1 on) every host and task is told that viewers use HTTPS, so
the session cookie is Secure; at stage 0 the box decides from the request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.stage_cache import ALL_STAGES, StageCache, props, resources
from tests.test_secret_access import Resolver


def service_environments(stages: StageCache, stage_number: int) -> list[dict[str, Any]]:
    stage = stages[stage_number]
    resolver = Resolver(stage)
    found = []
    for key, parameter in resources(stage, "AWS::SSM::Parameter").items():
        if "DB_WRITER_HOST" in json.dumps(props(parameter)):
            text, _ = resolver.render(key.split("/")[0], props(parameter)["Value"])
            found.append(json.loads(text))
    for task in resources(stage, "AWS::ECS::TaskDefinition").values():
        for container in props(task)["ContainerDefinitions"]:
            env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            if "DB_WRITER_HOST" in env:
                found.append(env)
    return found


@pytest.mark.parametrize("stage_number", ALL_STAGES)
def test_the_service_marks_cookies_secure_behind_cloudfront(stages: StageCache, stage_number: int) -> None:
    environments = service_environments(stages, stage_number)
    assert environments
    behind_cloudfront = bool(resources(stages[stage_number], "AWS::CloudFront::Distribution"))
    assert behind_cloudfront is (stage_number >= 1)
    for env in environments:
        assert (env.get("SESSION_COOKIE_SECURE") == "true") is behind_cloudfront, env.get("APP_STAGE")


@pytest.mark.parametrize("stage_number", ALL_STAGES[1:])
def test_cloudfront_tells_the_origin_the_viewer_used_https_and_forwards_no_viewer_host(
    stages: StageCache, stage_number: int
) -> None:
    stage = stages[stage_number]
    ((key, distribution),) = resources(stage, "AWS::CloudFront::Distribution").items()
    config = props(distribution)["DistributionConfig"]
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    assert {b["ViewerProtocolPolicy"] for b in behaviors} == {"redirect-to-https"}, "no plain-HTTP viewer request"
    policy_id = f"{key.split('/')[0]}/{config['DefaultCacheBehavior']['OriginRequestPolicyId']['Ref']}"
    policy = props(resources(stage, "AWS::CloudFront::OriginRequestPolicy")[policy_id])["OriginRequestPolicyConfig"]
    headers = policy["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    forwarded = {name.lower() for name in headers["Headers"]}
    assert "cloudfront-forwarded-proto" in forwarded and "content-type" in forwarded
    assert not forwarded & {"host", "x-forwarded-proto", "x-forwarded-for", "x-forwarded-host"}
