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
