"""HTTPS on the single box when a certificate is configured: at stage 0 it is the public web
server, and at stage 1 it answers viewers whose DNS still names it during the 0->1 cut-over.
What nginx does with the certificate is tested for real in tests/service/test_box_tls.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaling_stacks.assembly import SynthesizedStage
from scaling_stacks.config import MAX_STAGE, MIN_STAGE, build_config
from tests.stage_cache import CERTIFICATE_ARN, DOMAIN_CONTEXT, StageCache, props, resources

INSTALL_TLS = "deploy/install_tls.sh"


def _box_user_data(stage: SynthesizedStage) -> str:
    (box,) = resources(stage, "AWS::EC2::Instance").values()
    return json.dumps(props(box)["UserData"])


def _export_statements(stage: SynthesizedStage) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for template in stage.templates.values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            for statement in props(resource)["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(action.startswith("acm:") for action in actions):
                    found.append((logical_id, statement))
    return found


@pytest.mark.parametrize("stage", range(MIN_STAGE, MAX_STAGE + 1))
def test_the_box_serves_tls_exactly_where_it_serves_viewers_and_has_a_certificate(stage: int) -> None:
    with_certificate = build_config({"stage": stage, **DOMAIN_CONTEXT}.get, {})
    without = build_config({"stage": stage}.get, {})
    assert with_certificate.box_certificate_arn == (CERTIFICATE_ARN if stage <= 1 else None)
    assert without.box_certificate_arn is None


@pytest.mark.parametrize("stage_number", [0, 1])
def test_the_box_exports_the_certificate_and_proves_https_before_it_reports_healthy(
    stages: StageCache, stage_number: int
) -> None:
    user_data = _box_user_data(stages.variant(stage_number, DOMAIN_CONTEXT))
    mode = "required" if stage_number == 0 else "optional"
    step = f"{INSTALL_TLS} {CERTIFICATE_ARN} www.example.com {mode}"
    assert step in user_data
    # The health gate (and so the signal to CloudFormation) comes after HTTPS works.
    assert user_data.index(step) < user_data.index("/health/deep")
    statements = _export_statements(stages.variant(stage_number, DOMAIN_CONTEXT))
    assert len(statements) == 1, "only the box may export the certificate"
    logical_id, statement = statements[0]
    assert logical_id.startswith("BoxRole") and statement["Effect"] == "Allow"
    assert statement["Action"] == "acm:ExportCertificate" and statement["Resource"] == CERTIFICATE_ARN


@pytest.mark.parametrize("stage_number", [0, 1, 2])
def test_no_tls_step_and_no_export_right_without_a_certificate_or_a_box(stages: StageCache, stage_number: int) -> None:
    plain = stages[stage_number]
    assert not _export_statements(plain)
    if stage_number <= 1:
        assert INSTALL_TLS not in _box_user_data(plain)
    else:
        assert not _export_statements(stages.variant(2, DOMAIN_CONTEXT)), "stage 2 has no box to export to"


def test_stage_0_opens_https_to_the_internet_once_dns_names_the_box(stages: StageCache) -> None:
    rules = resources(stages.variant(0, DOMAIN_CONTEXT), "AWS::EC2::SecurityGroupIngress")
    public = {props(rule)["FromPort"] for rule in rules.values() if props(rule).get("CidrIp") == "0.0.0.0/0"}
    assert public == {80, 443}


def test_the_box_sends_the_same_hsts_header_as_the_edge(stages: StageCache) -> None:
    (policy,) = resources(stages[1], "AWS::CloudFront::ResponseHeadersPolicy").values()
    hsts = props(policy)["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["StrictTransportSecurity"]
    value = f"max-age={hsts['AccessControlMaxAgeSec']}"
    value += "; includeSubDomains" if hsts["IncludeSubdomains"] else ""
    value += "; preload" if hsts["Preload"] else ""
    box_nginx = (Path(__file__).parents[1] / "service" / "deploy" / "nginx-scaling-app-tls.conf").read_text()
    assert f'add_header Strict-Transport-Security "{value}" always;' in box_nginx
