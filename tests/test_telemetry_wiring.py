"""The trace collector runs everywhere the service runs from stage 4 (the CloudWatch agent on
the app tier, an ADOT sidecar from ECR Public in every ECS task), and nothing runs X-Ray's
retiring daemon."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_lib.telemetry import ADOT_COLLECTOR_IMAGE, COLLECTOR_ENDPOINT, ENDPOINT_VARIABLE
from scaling_stacks.config import build_config
from tests.stage_cache import ALL_STAGES, StageCache, props, resources

XRAY_DAEMON_MARKERS = ("aws-xray-daemon", "AWSXRayDaemonWriteAccess", "xray-daemon", "AWS_XRAY_DAEMON_ADDRESS")


def _app_config(stages: StageCache, stage: int) -> dict[str, Any]:
    [parameter] = [
        props(r)
        for key, r in resources(stages[stage], "AWS::SSM::Parameter").items()
        if "AppConfig" in key and "scaling-compute/" in key
    ]
    return parameter


def daemon_mentions(templates: dict[str, Any]) -> list[str]:
    text = json.dumps(templates)
    return [marker for marker in XRAY_DAEMON_MARKERS if marker in text]


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_no_stage_runs_the_xray_daemon(stages: StageCache, stage: int) -> None:
    assert daemon_mentions(dict(stages[stage].templates)) == []


def test_the_daemon_check_can_fail() -> None:
    assert daemon_mentions({"t": {"Image": "amazon/aws-xray-daemon:3.x"}}) == ["aws-xray-daemon", "xray-daemon"]


def test_tracing_starts_at_stage_4() -> None:
    assert [build_config({"stage": stage}.get, {}).has_tracing for stage in ALL_STAGES] == [False] * 4 + [True] * 3


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_the_app_tier_runs_the_collector_and_the_service_exports_to_it_from_stage_4(
    stages: StageCache, stage: int
) -> None:
    tracing = build_config({"stage": stage}.get, {}).has_tracing
    launch_templates = resources(stages[stage], "AWS::EC2::LaunchTemplate")
    app_template = json.dumps(next(props(t) for k, t in launch_templates.items() if "/AppTier" in k))
    assert ("amazon-cloudwatch-agent-ctl" in app_template) is tracing
    assert ("traces_collected" in app_template and "otlp" in app_template) is tracing
    assert (ENDPOINT_VARIABLE in json.dumps(_app_config(stages, stage))) is tracing
    host_logs = [
        p
        for k, p in ((k, props(r)) for k, r in resources(stages[stage], "AWS::Logs::LogGroup").items())
        if "TelemetryHostLogs" in k
    ]
    assert [p.get("RetentionInDays") for p in host_logs] == ([90] if tracing else [])
    web_template = json.dumps(next(props(t) for k, t in launch_templates.items() if "/WebTier" in k))
    assert "amazon-cloudwatch-agent" not in web_template, "the web tier runs nginx only, no service"


def test_every_ecs_task_runs_the_collector_from_ecr_public_on_graviton(stages: StageCache) -> None:
    tasks = resources(stages[6], "AWS::ECS::TaskDefinition")
    assert len(tasks) == 2
    for task in map(props, tasks.values()):
        containers = {c["Name"]: c for c in task["ContainerDefinitions"]}
        assert set(containers) == {"App", "Collector"}
        assert containers["Collector"]["Image"] == ADOT_COLLECTOR_IMAGE
        assert ADOT_COLLECTOR_IMAGE.startswith("public.ecr.aws/")
        assert "otlp" in next(
            e["Value"] for e in containers["Collector"]["Environment"] if e["Name"] == "AOT_CONFIG_CONTENT"
        )
        app_env = {e["Name"]: e["Value"] for e in containers["App"]["Environment"]}
        assert app_env[ENDPOINT_VARIABLE] == COLLECTOR_ENDPOINT
        assert {"ContainerName": "Collector", "Condition": "START"} in containers["App"]["DependsOn"]
        assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
        images = json.dumps([c["Image"] for c in containers.values()])
        assert "docker.io" not in images and "amazon/" not in images
