"""What stages 0, 1 and 2 must contain, and must not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scaling_stacks.assembly import SynthesizedStage
from service.config import PUBLIC_READ_MAX_AGE_LIMIT_SECONDS
from service.sessions import COOKIE
from tests.stage_cache import DOMAIN_CONTEXT, StageCache, props, resources


def only(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(found) == 1, sorted(found)
    return next(iter(found.values()))


def test_stage_0_is_one_box_and_one_database(stages: StageCache) -> None:
    stage = stages[0]
    assert set(stage.templates) == {"scaling-network", "scaling-data", "scaling-compute"}
    assert not resources(stage, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert not resources(stage, "AWS::CloudFront::Distribution")
    box = props(only(resources(stage, "AWS::EC2::Instance")))
    assert "KeyName" not in box
    assert only(resources(stage, "AWS::EC2::EIP"))
    database = props(only(resources(stage, "AWS::RDS::DBInstance")))
    assert database["Engine"] == "mysql" and database["EngineVersion"] == "8.4"
    assert database["MultiAZ"] is False
    assert database["PubliclyAccessible"] is False


def test_box_has_imdsv2_encrypted_disk_and_no_ssh(stages: StageCache) -> None:
    stage = stages[0]
    template = only(resources(stage, "AWS::EC2::LaunchTemplate"))
    assert props(template)["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    box = props(only(resources(stage, "AWS::EC2::Instance")))
    assert all(device["Ebs"]["Encrypted"] for device in box["BlockDeviceMappings"])
    for group in resources(stage, "AWS::EC2::SecurityGroup").values():
        for rule in props(group).get("SecurityGroupIngress", []):
            assert rule.get("FromPort") not in (22, 3389), rule
            if rule.get("CidrIp") == "0.0.0.0/0":
                assert rule["FromPort"] in (80, 443), rule


@pytest.mark.parametrize("stage_number", [0, 1, 2])
def test_database_is_hardened(stages: StageCache, stage_number: int) -> None:
    database = props(only(resources(stages[stage_number], "AWS::RDS::DBInstance")))
    assert database["StorageEncrypted"] is True
    assert database["DeletionProtection"] is True
    assert database["BackupRetentionPeriod"] >= 7
    assert database["EnableIAMDatabaseAuthentication"] is True
    assert "MasterUserPassword" in database and "secretsmanager" in json.dumps(database["MasterUserPassword"])
    raw = only(resources(stages[stage_number], "AWS::RDS::DBInstance"))
    assert raw["DeletionPolicy"] == "Snapshot" and raw["UpdateReplacePolicy"] == "Snapshot"
    # The master secret and the app secret (tests/test_database_credentials.py checks which rotates how).
    assert len(resources(stages[stage_number], "AWS::SecretsManager::RotationSchedule")) == 2
    parameters = props(only(resources(stages[stage_number], "AWS::RDS::DBParameterGroup")))["Parameters"]
    assert parameters["require_secure_transport"] == "1"  # RDS takes 0 or 1


def test_stage_1_puts_cloudfront_waf_and_a_private_bucket_in_front_of_the_box(stages: StageCache) -> None:
    stage = stages[1]
    distribution = props(only(resources(stage, "AWS::CloudFront::Distribution")))["DistributionConfig"]
    assert distribution["WebACLId"]
    assert distribution["Logging"]["Bucket"]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert any("S3OriginConfig" in origin and origin.get("OriginAccessControlId") for origin in distribution["Origins"])
    acl = props(only(resources(stage, "AWS::WAFv2::WebACL")))
    assert acl["Scope"] == "CLOUDFRONT"
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= {r["Name"] for r in acl["Rules"]}
    assert stage.templates["scaling-edge-waf"]  # the web ACL lives in its us-east-1 stack
    headers = props(only(resources(stage, "AWS::CloudFront::ResponseHeadersPolicy")))
    security = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert only(resources(stage, "AWS::EC2::Instance"))


@pytest.mark.parametrize("stage_number", range(1, 7))
def test_the_api_behaviour_caches_only_what_the_origin_marks_public_and_keys_on_the_session(
    stages: StageCache, stage_number: int
) -> None:
    stage = stages[stage_number]
    behaviour = props(only(resources(stage, "AWS::CloudFront::Distribution")))["DistributionConfig"][
        "DefaultCacheBehavior"
    ]
    policies = resources(stage, "AWS::CloudFront::CachePolicy")
    policy = next(p for key, p in policies.items() if key.endswith("/" + behaviour["CachePolicyId"]["Ref"]))
    config = props(policy)["CachePolicyConfig"]
    # Default TTL 0: a response the origin leaves unmarked (or marks no-store) is never kept.
    assert (config["MinTTL"], config["DefaultTTL"]) == (0, 0)
    assert config["MaxTTL"] == PUBLIC_READ_MAX_AGE_LIMIT_SECONDS
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "whitelist", "Cookies": [COOKIE]}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    # What reaches the origin beyond the cache key (the session cookie and the query string)
    # is tested in tests/test_secure_sessions.py: the site's own origin request policy.
    assert "Ref" in behaviour["OriginRequestPolicyId"]


def test_buckets_are_private_encrypted_tls_only_and_retained(stages: StageCache) -> None:
    for logical_id, bucket in resources(stages[1], "AWS::S3::Bucket").items():
        properties = props(bucket)
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert properties["BucketEncryption"], logical_id
        assert bucket["DeletionPolicy"] == "Retain", logical_id
    for logical_id, policy in resources(stages[1], "AWS::S3::BucketPolicy").items():
        statements = props(policy)["PolicyDocument"]["Statement"]
        assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in statements), (
            logical_id
        )


def test_stage_2_has_two_tiers_behind_two_internal_load_balancers(stages: StageCache) -> None:
    stage = stages[2]
    assert not resources(stage, "AWS::EC2::Instance"), "the single box is gone at stage 2"
    balancers = [props(lb)["Scheme"] for lb in resources(stage, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()]
    assert balancers == ["internal", "internal"]
    groups = resources(stage, "AWS::AutoScaling::AutoScalingGroup")
    assert len(groups) == 2
    for group in groups.values():
        assert int(props(group)["MinSize"]) >= 2
        assert len(props(group)["VPCZoneIdentifier"]) == 2
    assert only(resources(stage, "AWS::EC2::NatGateway"))
    database = props(only(resources(stage, "AWS::RDS::DBInstance")))
    assert database["MultiAZ"] is True
    assert not database["DBInstanceClass"].startswith("db.t"), "a dedicated class, not burstable"


def _site_load_balancer(stage: SynthesizedStage) -> str:
    return next(
        logical_id
        for logical_id, lb in stage.templates["scaling-compute"]["Resources"].items()
        if lb["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer" and logical_id.startswith("SiteLoadBalancer")
    )


@pytest.mark.parametrize("stage_number", [1, 2])
def test_cloudfront_reaches_the_site_load_balancer_through_a_vpc_origin(stages: StageCache, stage_number: int) -> None:
    stage = stages[stage_number]
    config = props(only(resources(stage, "AWS::CloudFront::Distribution")))["DistributionConfig"]
    default_origin = next(o for o in config["Origins"] if o["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"])
    assert "CustomOriginConfig" not in default_origin and "OriginCustomHeaders" not in default_origin
    vpc_origin_id = default_origin["VpcOriginConfig"]["VpcOriginId"]["Fn::GetAtt"][0]
    endpoint = stage.templates["scaling-edge"]["Resources"][vpc_origin_id]["Properties"]["VpcOriginEndpointConfig"]
    output = endpoint["Arn"]["Fn::GetStackOutput"]["OutputName"]
    assert stage.templates["scaling-compute"]["Outputs"][output]["Value"] == {"Ref": _site_load_balancer(stage)}


@pytest.mark.parametrize("stage_number", [1, 2])
def test_the_site_load_balancer_admits_only_cloudfront_and_forwards_everything(
    stages: StageCache, stage_number: int
) -> None:
    compute = stages[stage_number].templates["scaling-compute"]["Resources"]
    site_ingress = [
        r["Properties"]
        for r in compute.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and "SiteLoadBalancer" in json.dumps(r["Properties"]["GroupId"])
    ]
    assert site_ingress and all("SourcePrefixListId" in rule for rule in site_ingress)
    listener = next(
        r
        for r in compute.values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
        and "SiteLoadBalancer" in json.dumps(r["Properties"]["LoadBalancerArn"])
    )
    assert [action["Type"] for action in listener["Properties"]["DefaultActions"]] == ["forward"]
    assert not [r for r in compute.values() if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"]
    assert not [r for r in compute.values() if r["Type"] == "AWS::SecretsManager::Secret"], "no origin-verify secret"


def test_stage_1_serves_the_box_through_the_site_load_balancer_and_keeps_its_address(stages: StageCache) -> None:
    # The box's wiring changes at 0->1, so it is replaced (health-gated); its Elastic IP moves to the new one.
    (old_box,) = resources(stages[0], "AWS::EC2::Instance")
    (box,) = resources(stages[1], "AWS::EC2::Instance")
    box_id = box.split("/")[1]
    assert box != old_box
    compute = stages[1].templates["scaling-compute"]["Resources"]
    target_group = next(r for r in compute.values() if r["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert target_group["Properties"]["Targets"] == [{"Id": {"Ref": box_id}, "Port": 80}]
    (eip_id,) = resources(stages[0], "AWS::EC2::EIP")
    assert set(resources(stages[1], "AWS::EC2::EIP")) == {eip_id}, "the same Elastic IP at both stages"
    (eip,) = resources(stages[1], "AWS::EC2::EIP").values()
    assert props(eip)["InstanceId"] == {"Ref": box_id}


def test_https_listener_with_a_certificate(stages: StageCache) -> None:
    stage = stages.variant(2, DOMAIN_CONTEXT)
    listeners = [props(r) for r in resources(stage, "AWS::ElasticLoadBalancingV2::Listener").values()]
    https = [listener for listener in listeners if listener["Protocol"] == "HTTPS"]
    assert len(https) == 1 and https[0]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    distribution = props(only(resources(stage, "AWS::CloudFront::Distribution")))["DistributionConfig"]
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["Aliases"] == ["www.example.com"]
    records = resources(stage, "AWS::Route53::RecordSet")
    assert {props(r)["Name"] for r in records.values()} >= {"www.example.com.", "www-origin.example.com."}


@pytest.mark.parametrize("stage_number", [0, 2])
def test_hosts_install_the_service_and_connect_to_mysql_over_tls(stages: StageCache, stage_number: int) -> None:
    compute = stages[stage_number].templates["scaling-compute"]["Resources"]
    user_data = [
        json.dumps(r["Properties"].get("UserData") or r["Properties"]["LaunchTemplateData"].get("UserData"))
        for r in compute.values()
        if r["Type"] in ("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate")
    ]
    service_hosts = [text for text in user_data if "deploy/install.sh" in text]
    assert len(service_hosts) == 1, "the box, or the app tier, runs the service"
    assert "rds-global-bundle.pem" in service_hosts[0]
    parameters = [r["Properties"]["Value"] for r in compute.values() if r["Type"] == "AWS::SSM::Parameter"]
    app_config = next(json.dumps(value) for value in parameters if "DB_WRITER_HOST" in json.dumps(value))
    assert "DB_TLS_CA_FILE" in app_config and "DB_SECRET_ARN" in app_config
