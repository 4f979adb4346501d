"""Stage 3: the cache, the read replicas and the configuration the app reads at boot."""

from __future__ import annotations

import json
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from constructs_lib.cache import ReplicatedCache
from constructs_lib.database import HardenedMysql, ReadReplicas
from scaling_stacks.assembly import project_context
from scaling_stacks.cdk_app import new_app
from scaling_stacks.config import ConfigError, build_config
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from tests.stage_cache import StageCache, props, resources

APP_KEYS = {"APP_STAGE", "AWS_REGION", "DB_WRITER_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN"}
STAGE_3_KEYS = APP_KEYS | {"DB_READER_HOST", "CACHE_HOST", "CACHE_PORT", "CACHE_TLS", "CACHE_AUTH_SECRET_ARN"}


def only(found: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def replica_ids(template: dict[str, Any]) -> list[str]:
    return sorted(
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::RDS::DBInstance" and "SourceDBInstanceIdentifier" in resource["Properties"]
    )


def app_config_keys(stage_templates: dict[str, dict[str, Any]]) -> set[str]:
    """The variable names in the app config parameter's JSON (values may be references)."""
    (_, parameter) = only(
        {
            logical_id: resource
            for logical_id, resource in stage_templates["scaling-compute"]["Resources"].items()
            if resource["Type"] == "AWS::SSM::Parameter" and logical_id.startswith("AppConfig")
        }
    )
    value = props(parameter)["Value"]
    literal = "".join(part for part in value["Fn::Join"][1] if isinstance(part, str))
    return {key for key in STAGE_3_KEYS if f'"{key}":' in literal}


def test_cache_is_multi_az_encrypted_authenticated_and_off_the_default_port(stages: StageCache) -> None:
    key, group = only(resources(stages[3], "AWS::ElastiCache::ReplicationGroup"))
    assert key.startswith("scaling-cache/")
    cache = props(group)
    for flag in ("MultiAZEnabled", "AutomaticFailoverEnabled", "TransitEncryptionEnabled", "AtRestEncryptionEnabled"):
        assert cache[flag] is True, flag
    assert cache["Engine"] == "valkey"
    assert cache["Port"] != 6379
    assert cache["NumCacheClusters"] >= 3  # a primary and a replica in each of the two AZs
    assert "resolve:secretsmanager" in json.dumps(cache["AuthToken"])
    assert group["DeletionPolicy"] == "Snapshot"
    _, secret = only(
        {k: v for k, v in resources(stages[3], "AWS::SecretsManager::Secret").items() if k.startswith("scaling-cache/")}
    )
    assert secret["DeletionPolicy"] == "Retain"


def test_only_the_app_tier_reaches_the_cache_and_the_rule_lives_in_compute(stages: StageCache) -> None:
    stage = stages[3]
    cache_stack = stage.templates["scaling-cache"]
    assert not [r for r in cache_stack["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    (_, cache_group) = only({k: v for k, v in cache_stack["Resources"].items() if k.startswith("CacheSecurityGroup")})
    assert "SecurityGroupIngress" not in props(cache_group)
    to_cache = [
        props(rule)
        for rule in resources(stage, "AWS::EC2::SecurityGroupIngress").values()
        if "CacheSecurityGroup" in json.dumps(props(rule)["GroupId"])
    ]
    assert len(to_cache) == 1 and "AppTierSecurityGroup" in json.dumps(to_cache[0]["SourceSecurityGroupId"])
    assert to_cache[0]["FromPort"] == props(only(resources(stage, "AWS::ElastiCache::ReplicationGroup"))[1])["Port"]
    # Compute reads the cache; the cache depends on nothing that compute owns: no cycle.
    assert "scaling-cache" in stage.dependencies["scaling-compute"]
    assert stage.dependencies["scaling-cache"] == ("scaling-network",)


def test_read_replicas_copy_the_primary_across_azs(stages: StageCache) -> None:
    stage = stages[3]
    data = stage.templates["scaling-data"]["Resources"]
    replicas = replica_ids(stage.templates["scaling-data"])
    assert replicas and len(replicas) == stage.config.read_replicas == 2
    primary = next(k for k in data if k.startswith("PrimaryInstance") and data[k]["Type"] == "AWS::RDS::DBInstance")
    for logical_id in replicas:
        source = data[logical_id]["Properties"]["SourceDBInstanceIdentifier"]
        assert {"Ref": primary} in source["Fn::Join"][1], source
        assert data[logical_id]["Properties"]["EnableIAMDatabaseAuthentication"] is True
    assert len({data[r]["Properties"]["AvailabilityZone"] for r in replicas}) == 2
    lag_alarms = [
        props(a)
        for a in resources(stage, "AWS::CloudWatch::Alarm").values()
        if "ReplicaLag" in json.dumps(props(a)) and "ScalingSignals" not in props(a)["AlarmName"]
    ]
    assert len(lag_alarms) == len(replicas) and all(a["AlarmActions"] for a in lag_alarms)


@pytest.mark.parametrize("count", ["0", "16"])
def test_replica_counts_rds_does_not_allow_are_rejected(count: str) -> None:
    with pytest.raises(
        ConfigError, match=r"'read_replicas': '\d+' is not allowed; expected a whole number from 1 to 15"
    ):
        build_config({"stage": 3, "read_replicas": count}.get, {})


def test_adding_replicas_keeps_the_existing_ones(stages: StageCache) -> None:
    """Only the network and data stacks, without cdk-nag: enough to see the logical IDs, and fast."""
    app = new_app(context={**project_context(), "stage": 3, "read_replicas": 4})
    config = build_config(app.node.try_get_context, {})
    env = cdk.Environment(account=config.account, region=config.region)
    network = NetworkStack(app, "scaling-network", config=config, env=env)
    data = DataStack(app, "scaling-data", config=config, network=network, env=env)
    four = replica_ids(app.synth().get_stack_by_name(data.stack_name).template)
    two = replica_ids(stages[3].templates["scaling-data"])
    assert len(four) == 4 and set(two) <= set(four)


def test_app_reads_its_wiring_from_one_parameter_from_stage_0(stages: StageCache) -> None:
    assert app_config_keys(stages[0].templates) == APP_KEYS
    assert app_config_keys(stages[3].templates) == STAGE_3_KEYS
    for stage_number in (0, 3):
        user_data = json.dumps(
            [props(r) for r in resources(stages[stage_number], "AWS::EC2::Instance").values()]
            + [props(r) for r in resources(stages[stage_number], "AWS::EC2::LaunchTemplate").values()]
        )
        assert "APP_CONFIG_PARAMETER=" in user_data


def test_constructs_refuse_a_cache_without_replicas_and_too_many_db_replicas() -> None:
    stack = cdk.Stack(cdk.App(), "Guards")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, restrict_default_security_group=False)
    isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    with pytest.raises(ValueError, match="replicas_per_az"):
        ReplicatedCache(
            stack,
            "Cache",
            vpc=vpc,
            subnets=isolated,
            node_type="cache.t4g.micro",
            secret_key=kms.Key(stack, "Key"),
            replicas_per_az=0,
        )
    with pytest.raises(ValueError, match="1 to 15 read replicas"):
        ReadReplicas(
            stack,
            "Replicas",
            source=cast(HardenedMysql, None),  # the count is checked before the source is used
            count=16,
            vpc=vpc,
            subnets=isolated,
            availability_zones=["a"],
            instance_type="m7g.large",
        )
