"""The EC2 hosts: they follow the stage's wiring, roll only through a health gate, boot a
pinned image without PyPI, and the web tier's proxy follows its upstream's addresses."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib.instance_defaults import (
    HEALTH_CHECK_GRACE,
    HEALTHY_WITHIN,
    HOST_READY_TIMEOUT,
    LOAD_BALANCER_SETTLE,
    amazon_linux,
)
from constructs_lib.user_data import VPC_RESOLVER
from constructs_lib.wheelhouse import SERVICE_DIR, STAMP, WHEELHOUSE, WheelhouseError, check_wheelhouse
from scaling_stacks.assembly import SynthesizedStage
from scaling_stacks.config import DEFAULT_HOST_IMAGE
from tests.stage_cache import StageCache, all_resources, props, resources
from tools.stage_plan.model import AppTemplates
from tools.stage_plan.plan import plan_stages
from tools.wheelhouse import canonical, pins, unpinned

TIER_STAGES = (2, 3, 4, 5, 6)
BOX_STAGES = (0, 1)
NEVER_SUSPENDED = {"HealthCheck", "ReplaceUnhealthy"}
_ISO_MINUTES = re.compile(r"^PT(\d+)M$")


def script(user_data: Any) -> str:
    """A host's boot script as text, each intrinsic written as its JSON."""
    body = user_data["Fn::Base64"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(part if isinstance(part, str) else json.dumps(part, sort_keys=True) for part in parts)


def launch_scripts(stages: StageCache, stage: int) -> dict[str, str]:
    """Boot script of each tier's launch template, by tier (AppTier, WebTier)."""
    return {
        key.split("/")[1].split("LaunchTemplate")[0]: script(props(lt)["LaunchTemplateData"]["UserData"])
        for key, lt in resources(stages[stage], "AWS::EC2::LaunchTemplate").items()
    }


def box(stages: StageCache, stage: int) -> tuple[str, dict[str, Any]]:
    (key, instance), *others = resources(stages[stage], "AWS::EC2::Instance").items()
    assert not others
    return key.split("/")[1], instance


def groups(stages: StageCache, stage: int) -> dict[str, dict[str, Any]]:
    return {
        key.split("/")[1]: group
        for key, group in resources(stages[stage], "AWS::AutoScaling::AutoScalingGroup").items()
    }


def minutes(duration: str) -> int:
    found = _ISO_MINUTES.match(duration)
    assert found, duration
    return int(found.group(1))


def roll_problems(group: dict[str, Any]) -> list[str]:
    """Why a group's creation or rolling update is not gated on its hosts' health signals."""
    problems = []
    rolling = group.get("UpdatePolicy", {}).get("AutoScalingRollingUpdate")
    if rolling is None:
        return ["no rolling update policy"]
    if rolling.get("WaitOnResourceSignals") is not True:
        problems.append("the rolling update does not wait for signals")
    if rolling.get("MinSuccessfulInstancesPercent") != 100:
        problems.append("the rolling update accepts hosts that did not signal success")
    if suspended := NEVER_SUSPENDED & set(rolling.get("SuspendProcesses", [])):
        problems.append(f"the rolling update suspends {sorted(suspended)}")
    if int(rolling["MinInstancesInService"]) >= int(props(group)["MaxSize"]):
        problems.append("MinInstancesInService must stay below MaxSize")
    signal = group.get("CreationPolicy", {}).get("ResourceSignal", {})
    if signal.get("Count") != int(props(group)["MinSize"]):
        problems.append("creation does not wait for a signal from every first host")
    return problems


def test_every_tier_rolls_and_starts_only_through_health_signals(stages: StageCache) -> None:
    for stage in TIER_STAGES:
        for name, group in groups(stages, stage).items():
            assert roll_problems(group) == [], (stage, name)
            rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
            assert rolling["MaxBatchSize"] == 1
            assert minutes(rolling["PauseTime"]) == minutes(group["CreationPolicy"]["ResourceSignal"]["Timeout"]) == 10


def test_the_roll_guard_catches_suspended_health_checks_and_unsignalled_rolls(stages: StageCache) -> None:
    good = next(iter(groups(stages, 4).values()))
    suspended = copy.deepcopy(good)
    suspended["UpdatePolicy"]["AutoScalingRollingUpdate"]["SuspendProcesses"] += ["HealthCheck", "ReplaceUnhealthy"]
    assert roll_problems(suspended) == ["the rolling update suspends ['HealthCheck', 'ReplaceUnhealthy']"]
    unsignalled = copy.deepcopy(good)
    del unsignalled["UpdatePolicy"]["AutoScalingRollingUpdate"]["WaitOnResourceSignals"]
    del unsignalled["CreationPolicy"]
    assert len(roll_problems(unsignalled)) == 2


def test_each_host_signals_its_own_resource_after_the_deep_health_check(stages: StageCache) -> None:
    gated = []
    for stage in BOX_STAGES:
        logical_id, instance = box(stages, stage)
        gated.append((stage, logical_id, script(props(instance)["UserData"])))
        assert minutes(instance["CreationPolicy"]["ResourceSignal"]["Timeout"]) == 10
    for stage in TIER_STAGES:
        for tier, text in launch_scripts(stages, stage).items():
            (logical_id,) = [name for name in groups(stages, stage) if name.startswith(tier)]
            gated.append((stage, logical_id, text))
    limit = int(HEALTHY_WITHIN.to_seconds())
    assert limit < HEALTH_CHECK_GRACE.to_seconds() < HOST_READY_TIMEOUT.to_seconds()
    for stage, logical_id, text in gated:
        assert f"cfn-signal --stack scaling-compute --resource {logical_id} " in text, (stage, logical_id)
        assert "-e $exitCode" in text and "trap exitTrap EXIT" in text
        lines = text.rstrip().splitlines()
        settle = [f"sleep {int(LOAD_BALANCER_SETTLE.to_seconds())}"] if stage in TIER_STAGES else []
        poll = lines[-4 - len(settle) :]
        assert poll[0] == "until curl -fsS -o /dev/null --max-time 5 http://127.0.0.1/health/deep; do", (stage, poll)
        assert f'[ "$SECONDS" -lt {limit} ]' in poll[1] and "exit 1" in poll[1]
        assert poll[4:] == settle, "a tier host lets its load balancer count it before it signals"
    for stage in TIER_STAGES:
        for group in groups(stages, stage).values():
            assert int(props(group)["HealthCheckGracePeriod"]) == HEALTH_CHECK_GRACE.to_seconds() > limit


def test_the_web_tier_waits_for_the_app_tier_it_checks_through(stages: StageCache) -> None:
    for stage in TIER_STAGES:
        found = groups(stages, stage)
        (web,) = [group for name, group in found.items() if name.startswith("WebTier")]
        (app,) = [name for name in found if name.startswith("AppTier")]
        assert app in web["DependsOn"], stage


def _digest(text: str) -> str:
    found = re.search(r"^APP_WIRING_DIGEST=([0-9a-f]{16})$", text, flags=re.MULTILINE)
    assert found, "the boot script carries the wiring digest"
    return found.group(1)


def test_hosts_are_replaced_when_their_wiring_changes(stages: StageCache) -> None:
    app_scripts = {stage: launch_scripts(stages, stage)["AppTier"] for stage in TIER_STAGES}
    for before, after in itertools.pairwise(TIER_STAGES):
        assert app_scripts[before] != app_scripts[after], (before, after)
        assert _digest(app_scripts[before]) != _digest(app_scripts[after]), (before, after)
    # What the issue found: without the digest, 2 -> 3 would replace no host.
    without = [app_scripts[stage].replace(_digest(app_scripts[stage]), "") for stage in (2, 3)]
    assert without[0] == without[1]
    box_ids = [box(stages, stage)[0] for stage in BOX_STAGES]
    assert box_ids[0] != box_ids[1], "the box's logical id carries its user data: 0 -> 1 replaces it"
    assert len({_digest(script(props(box(stages, stage)[1])["UserData"])) for stage in BOX_STAGES}) == 2
    for stage in BOX_STAGES:
        (eip,) = resources(stages[stage], "AWS::EC2::EIP").values()
        assert props(eip)["InstanceId"] == {"Ref": box(stages, stage)[0]}, "the Elastic IP moves, it is not replaced"


def proxy_problems(text: str) -> list[str]:
    """Why a web host's nginx would not listen on 80 or would pin its upstream's addresses."""
    problems = []
    if "listen 80 default_server;" not in text:
        problems.append("nginx does not listen on port 80")
    resolver = re.search(r"^\s*resolver (\S+) valid=(\d+)s", text, re.MULTILINE)
    if not resolver or resolver.group(1) != VPC_RESOLVER or int(resolver.group(2)) > 30:
        problems.append(f"no resolver {VPC_RESOLVER} with valid= of at most 30s")
    upstream = re.search(r"^\s*set \$upstream http://(.+);$", text, re.MULTILINE)
    if not upstream or "InternalLoadBalancer" not in upstream.group(1) or ":" in upstream.group(1).split('"]}')[-1]:
        problems.append("the upstream is not the internal load balancer's name on port 80")
    if re.search(r"^\s*proxy_pass (?!\$upstream;)", text, re.MULTILINE):
        problems.append("proxy_pass names its upstream directly (resolved once at start)")
    return problems


def test_the_web_tier_proxies_to_the_internal_load_balancer_and_re_resolves_it(stages: StageCache) -> None:
    for stage in TIER_STAGES:
        text = launch_scripts(stages, stage)["WebTier"]
        assert proxy_problems(text) == [], stage
        assert '{"Fn::GetAtt": ["InternalLoadBalancer' in text and '"DNSName"]}' in text
        compute = [r for key, r in resources(stages[stage], "AWS::ElasticLoadBalancingV2::Listener").items()]
        assert {props(listener)["Port"] for listener in compute} >= {80}
        targets = resources(stages[stage], "AWS::ElasticLoadBalancingV2::TargetGroup")
        web_targets = [props(tg) for key, tg in targets.items() if "SiteLoadBalancer" in key]
        assert web_targets and all(tg["Port"] == 80 for tg in web_targets), "the site ALB reaches nginx on 80"


def test_the_proxy_guard_catches_a_pinned_upstream_and_a_wrong_port(stages: StageCache) -> None:
    good = launch_scripts(stages, 2)["WebTier"]
    pinned = good.replace("proxy_pass $upstream;", "proxy_pass http://internal-lb.example;")
    assert proxy_problems(pinned) == ["proxy_pass names its upstream directly (resolved once at start)"]
    assert proxy_problems(good.replace("listen 80 default_server;", "listen 8080 default_server;")) == [
        "nginx does not listen on port 80"
    ]
    assert proxy_problems(re.sub(r"valid=\d+s", "valid=300s", good)) == [
        f"no resolver {VPC_RESOLVER} with valid= of at most 30s"
    ]
    wrong_port = re.sub(r'(set \$upstream http://.*"\]\});', r"\1:8080;", good)
    assert proxy_problems(wrong_port) == ["the upstream is not the internal load balancer's name on port 80"]


def latest_image_references(template: dict[str, Any]) -> list[str]:
    """Deploy-time image lookups: SSM image parameters and the 'latest' AMI parameter paths."""
    found = [
        name
        for name, parameter in template.get("Parameters", {}).items()
        if "AWS::EC2::Image::Id" in parameter.get("Type", "")
    ]
    if "ami-amazon-linux-latest" in json.dumps(template):
        found.append("/aws/service/ami-amazon-linux-latest")
    return found


def test_no_template_resolves_an_image_at_deploy_time(stages: StageCache) -> None:
    for stage in range(7):
        for stack, template in stages[stage].templates.items():
            assert latest_image_references(template) == [], (stage, stack)
        # The box's own launch template only sets its metadata options.
        image_ids = {
            image
            for _, _, r in all_resources(stages[stage])
            if r["Type"] in ("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate")
            and (image := props(r).get("ImageId") or props(r).get("LaunchTemplateData", {}).get("ImageId"))
        }
        assert len(image_ids) == 1 and next(iter(image_ids)).startswith("ami-"), stage
    floating = {
        "Parameters": {
            "SsmParameterValueawsserviceami": {
                "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
            }
        }
    }
    assert latest_image_references(floating) == [
        "SsmParameterValueawsserviceami",
        "/aws/service/ami-amazon-linux-latest",
    ]


def test_the_image_is_the_named_release_for_each_cpu() -> None:
    stack = cdk.Stack(cdk.App(), "Images", env=cdk.Environment(account="123456789012", region="us-east-1"))
    looked_up = {}
    for instance_type, image_name in (("m7g.large", "al2023-ami-2023.9.20260915.0-kernel-6.1"), ("m7i.large", "x")):
        arch = "arm64" if instance_type.startswith("m7g") else "x86_64"
        key = (
            "ami:account=123456789012:filters.image-type.0=machine:"
            f"filters.name.0={image_name}-{arch}:filters.state.0=available:owners.0=amazon:region=us-east-1"
        )
        stack.node.set_context(key, f"ami-{arch.replace('_', '')}")
        looked_up[instance_type] = amazon_linux(instance_type, image_name=image_name).get_image(stack).image_id
    assert looked_up == {"m7g.large": "ami-arm64", "m7i.large": "ami-x8664"}
    assert DEFAULT_HOST_IMAGE.startswith("al2023-ami-2023.") and not DEFAULT_HOST_IMAGE.endswith(("arm64", "x86_64"))


def test_the_vpc_routes_s3_through_a_gateway_endpoint_from_stage_0(stages: StageCache) -> None:
    for stage in (0, 2):
        network = stages[stage].templates["scaling-network"]["Resources"]
        (endpoint,) = [
            r
            for r in network.values()
            if r["Type"] == "AWS::EC2::VPCEndpoint" and props(r).get("VpcEndpointType") == "Gateway"
        ]
        assert ".s3" in json.dumps(props(endpoint)["ServiceName"])
        tables = {name for name, r in network.items() if r["Type"] == "AWS::EC2::RouteTable"}
        assert {ref["Ref"] for ref in props(endpoint)["RouteTableIds"]} == tables, "every subnet, the box's too"


def unretried_network_steps(text: str) -> list[str]:
    """Boot steps that reach the network (dnf, the AWS CLI, downloads) without `retry`."""
    return [
        line
        for line in text.splitlines()
        if re.match(r"^(dnf|aws|curl|/var/lib/scaling-app/venv/bin/python) ", line.strip())
    ]


def test_boot_steps_that_reach_the_network_retry(stages: StageCache) -> None:
    texts = [script(props(box(stages, 0)[1])["UserData"]), *launch_scripts(stages, 4).values()]
    for text in texts:
        assert "retry() {" in text and "set -euo pipefail" in text
        assert unretried_network_steps(text) == []
        assert "retry aws s3 cp" in text or "retry dnf install -y nginx" in text
    assert unretried_network_steps("retry dnf install -y nginx\ndnf install -y unzip\n") == ["dnf install -y unzip"]


def test_the_service_installs_from_its_own_wheels_never_from_pypi() -> None:
    install = (SERVICE_DIR / "deploy" / "install.sh").read_text()
    pip_lines = [line for line in install.splitlines() if "pip" in line and "install" in line and "dnf" not in line]
    assert pip_lines and all("--no-index" in line for line in pip_lines), pip_lines
    wheels = sorted(path.name for path in (SERVICE_DIR / WHEELHOUSE).glob("*.whl"))
    assert unpinned(wheels, pins(SERVICE_DIR)) == []
    assert all(wheel.endswith("-none-any.whl") or "aarch64" in wheel for wheel in wheels)
    requirements = (SERVICE_DIR / "requirements.txt").read_text().splitlines()
    top_level = {canonical(line.split("==")[0]) for line in requirements if line.strip() and not line.startswith("#")}
    assert {canonical(wheel.split("-")[0]) for wheel in wheels} >= top_level
    assert unpinned(["boto3-9.9.9-py3-none-any.whl"], pins(SERVICE_DIR)) == ["boto3==9.9.9"]


def test_the_service_bundle_ships_code_and_deploy_files_but_no_documentation(stages: StageCache) -> None:
    # A README edit must not change the bundle, which would replace the box and roll every host.
    (bundle,) = [p for p in stages[0].outdir.glob("asset.*") if (p / "deploy" / "install.sh").is_file()]
    assert (bundle / "app.py").is_file() and (bundle / "deploy" / "install_tls.sh").is_file()
    assert (SERVICE_DIR / "README.md").is_file()
    assert not list(bundle.rglob("*.md")), "documentation in the bundle"


def test_synth_refuses_a_bundle_without_its_wheelhouse(tmp_path: Path) -> None:
    for name in ("requirements.txt", "constraints.txt"):
        (tmp_path / name).write_text((SERVICE_DIR / name).read_text())
    with pytest.raises(WheelhouseError, match=r"wheelhouse \(service/wheelhouse\) is missing; run `make wheelhouse`"):
        check_wheelhouse(tmp_path)
    (tmp_path / WHEELHOUSE).mkdir()
    (tmp_path / WHEELHOUSE / STAMP).write_text((SERVICE_DIR / WHEELHOUSE / STAMP).read_text())
    check_wheelhouse(tmp_path)
    (tmp_path / "requirements.txt").write_text("boto3==9.9.9\n")
    with pytest.raises(WheelhouseError, match="stale"):
        check_wheelhouse(tmp_path)


def _with_image(stage: SynthesizedStage, image_id: str) -> AppTemplates:
    templates = copy.deepcopy(dict(stage.templates))
    for resource in templates["scaling-compute"]["Resources"].values():
        data = resource["Properties"].get("LaunchTemplateData", resource["Properties"])
        if resource["Type"] in ("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate") and "ImageId" in data:
            data["ImageId"] = image_id
    return AppTemplates(templates=templates, deploy_order=stage.deploy_order)


def test_the_plan_shows_an_image_change_as_a_roll_of_the_hosts_and_nothing_else(stages: StageCache) -> None:
    # The box is replaced; its Elastic IP and the alarms that watch it follow the new instance id.
    box_roll = {("AWS::CloudWatch::Alarm", "modify"), ("AWS::EC2::EIP", "modify"), ("AWS::EC2::Instance", "replace")}
    tier_roll = {("AWS::EC2::LaunchTemplate", "modify")}
    for stage, expected, count in ((0, box_roll, None), (4, tier_roll, 2)):
        plan = plan_stages(stages[stage], _with_image(stages[stage], "ami-0fedcba9876543210"), stage, stage)
        changes = [(change.type, change.action) for stack in plan.stacks for change in stack.changes]
        assert set(changes) == expected, stage
        assert count is None or len(changes) == count, stage
        assert not plan.blocking
