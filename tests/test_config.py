"""The config object is the only reader of context: defaults, capabilities and bad input."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from scaling_stacks.config import (
    CONTEXT_KEYS,
    OFFLINE_ACCOUNT,
    OFFLINE_REGION,
    Capacity,
    ConfigError,
    StageConfig,
    build_config,
)

CERT = "arn:aws:acm:{region}:123456789012:certificate/12345678-1234-1234-1234-123456789012"
ZONE = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}


def config_of(environ: dict[str, str] | None = None, **context: Any):
    return build_config(context.get, environ or {})


def test_defaults_are_the_documented_ones_and_work_offline() -> None:
    config = config_of()
    assert (config.stage, config.account, config.region) == (0, OFFLINE_ACCOUNT, OFFLINE_REGION)
    documented = {key.name: key.default for key in CONTEXT_KEYS}
    assert documented["stage"] == 0
    assert config.box_instance_type == documented["box_instance_type"]
    assert config.read_replicas == 0 and config.shards == 0


# The keys whose empty-context value comes from the environment, so StageConfig has no default.
FROM_THE_ENVIRONMENT = ("account", "region")


def defaults_that_differ(config_type: type[StageConfig], built: StageConfig) -> list[str]:
    """The context keys whose field in `config_type` defaults to other than what an empty context builds."""
    fields = {field.name: field for field in dataclasses.fields(config_type)}
    differ = []
    for key in CONTEXT_KEYS:
        default = fields[key.field_name].default
        if default is dataclasses.MISSING:
            agree = key.name in FROM_THE_ENVIRONMENT
        else:
            agree = default == getattr(built, key.field_name)
        if not agree:
            differ.append(key.name)
    return differ


def test_every_field_is_a_context_key_and_defaults_to_what_an_empty_context_builds() -> None:
    built = config_of()
    assert {key.field_name for key in CONTEXT_KEYS} == {field.name for field in dataclasses.fields(StageConfig)}
    assert defaults_that_differ(StageConfig, built) == []
    assert StageConfig(account=OFFLINE_ACCOUNT, region=OFFLINE_REGION) == built
    assert built.web_capacity_requested == Capacity(min=2, max=6, desired=2), "the documented 2-6"


def test_the_default_check_catches_a_field_default_that_disagrees_with_its_key() -> None:
    stale = dataclasses.make_dataclass(
        "Stale",
        [("web_capacity_requested", Capacity, dataclasses.field(default=Capacity(min=2, max=2, desired=2)))],
        bases=(StageConfig,),
        frozen=True,
        kw_only=True,
    )
    assert defaults_that_differ(stale, config_of()) == ["web_capacity"]


def test_blank_text_means_the_default() -> None:
    config = config_of(box_instance_type="", app_name=" ", region=" ")
    assert (config.box_instance_type, config.app_name, config.region) == ("t4g.small", "scaling", OFFLINE_REGION)


@pytest.mark.parametrize("key", [key.name for key in CONTEXT_KEYS])
def test_every_key_refuses_a_bad_value_in_one_line_naming_it(key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_of(**{key: "%bad%"})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"context key '{key}': '%bad%' is not allowed; expected "), message


def test_cli_environment_supplies_account_and_region() -> None:
    config = config_of({"CDK_DEFAULT_ACCOUNT": "210987654321", "CDK_DEFAULT_REGION": "eu-west-1"})
    assert (config.account, config.region) == ("210987654321", "eu-west-1")


@pytest.mark.parametrize(
    ("stage", "box", "edge", "tiers", "multi_az"),
    [(0, True, False, False, False), (1, True, True, False, False), (2, False, True, True, True)],
)
def test_capabilities_follow_the_stage(stage: int, box: bool, edge: bool, tiers: bool, multi_az: bool) -> None:
    config = config_of(stage=str(stage))
    assert (config.has_single_box, config.has_edge, config.has_tiers, config.db_multi_az) == (
        box,
        edge,
        tiers,
        multi_az,
    )


def test_capacity_is_fixed_before_stage_4_and_elastic_from_it() -> None:
    fixed = config_of(stage=2, app_capacity="2-10:3").app_capacity
    elastic = config_of(stage=4, app_capacity="2-10:3").app_capacity
    assert (fixed.min, fixed.max, fixed.desired) == (3, 3, 3)
    assert (elastic.min, elastic.max, elastic.desired) == (2, 10, 3)


def test_string_false_from_the_command_line_is_false() -> None:
    assert config_of(aws_config="false").aws_config is False
    assert config_of(aws_config="true").aws_config is True


@pytest.mark.parametrize(
    ("context", "key", "value"),
    [
        ({"stage": "7"}, "stage", "'7'"),
        ({"stage": "-1"}, "stage", "'-1'"),
        ({"stage": "abc"}, "stage", "'abc'"),
        ({"stage": True}, "stage", "True"),
        ({"domain_name": "not a domain", **ZONE}, "domain_name", "'not a domain'"),
        ({"domain_name": "www.other.org", **ZONE}, "domain_name", "'www.other.org'"),
        ({"domain_name": "www.example.com"}, "domain_name", "hosted_zone_id"),
        (
            {"domain_name": "www.example.com", **ZONE, "certificate_arn": CERT.format(region="eu-west-1")},
            "certificate_arn",
            "eu-west-1",
        ),
        (
            {"domain_name": "www.example.com", **ZONE, "cloudfront_certificate_arn": CERT.format(region="eu-west-1")},
            "cloudfront_certificate_arn",
            "us-east-1",
        ),
        ({"certificate_arn": CERT.format(region="us-east-1")}, "certificate_arn", "domain_name"),
        ({"stage": "1", "domain_name": "www.example.com", **ZONE}, "domain_name", "cloudfront_certificate_arn"),
        (
            {
                "stage": "4",
                "domain_name": "www.example.com",
                **ZONE,
                "certificate_arn": CERT.format(region="us-east-1"),
            },
            "domain_name",
            "cloudfront_certificate_arn",
        ),
        ({"read_replicas": "0"}, "read_replicas", "'0'"),
        ({"read_replicas": "16"}, "read_replicas", "'16'"),
        ({"shards": "0"}, "shards", "'0'"),
        ({"web_capacity": "1"}, "web_capacity", "'1'"),
        ({"app_capacity": "5-3"}, "app_capacity", "'5-3'"),
        ({"aws_config": "yes"}, "aws_config", "'yes'"),
        ({"scheduled_peak": "18:00-08:00"}, "scheduled_peak", "'18:00-08:00'"),
        ({"region": "mars-1"}, "region", "'mars-1'"),
        ({"alarm_email": "nobody"}, "alarm_email", "'nobody'"),
        ({"mysql_version": "5.7"}, "mysql_version", "'5.7'"),
        ({"host_image": "latest"}, "host_image", "'latest'"),
        ({"host_image": "al2023-ami-2023.9.20260915.0-kernel-6.1-arm64"}, "host_image", "without its architecture"),
        ({"host_image": "amzn2-ami-hvm-2.0.20260901.0"}, "host_image", "Amazon Linux 2023"),
        ({"app_instance_type": "m7i.large"}, "app_instance_type", "arm64 wheels"),
        ({"box_instance_type": "t3.small"}, "box_instance_type", "Graviton"),
    ],
)
def test_bad_input_names_key_value_and_what_is_allowed(context: dict[str, Any], key: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_of(**context)
    message = str(raised.value)
    assert "\n" not in message
    assert f"'{key}'" in message
    assert value in message
    assert "expected" in message or "needs" in message


def test_a_domain_without_cloudfront_certificate_serves_only_from_the_box() -> None:
    """At stage 0 the record points at the box itself, so no CloudFront certificate is needed."""
    config = config_of(stage="0", domain_name="www.example.com", **ZONE)
    assert config.has_dns and not config.has_edge


def test_good_domain_and_certificates_are_accepted() -> None:
    config = config_of(
        stage="2",
        domain_name="www.example.com",
        certificate_arn=CERT.format(region="us-east-1"),
        cloudfront_certificate_arn=CERT.format(region="us-east-1"),
        **ZONE,
    )
    assert config.has_dns and config.alb_https


@pytest.mark.parametrize(
    ("domain", "origin"), [("www.example.com", "www-origin.example.com"), ("example.com", "origin.example.com")]
)
def test_the_origin_name_is_one_label_beside_the_site_so_a_wildcard_covers_it(domain: str, origin: str) -> None:
    certs = {
        "certificate_arn": CERT.format(region="us-east-1"),
        "cloudfront_certificate_arn": CERT.format(region="us-east-1"),
    }
    config = config_of(stage="2", domain_name=domain, **certs, **ZONE)
    assert config.origin_domain_name == origin
    assert origin.split(".", 1)[1] == "example.com", "covered by *.example.com"
    assert (
        config_of(
            stage="2", domain_name=domain, cloudfront_certificate_arn=certs["cloudfront_certificate_arn"], **ZONE
        ).origin_domain_name
        is None
    )
