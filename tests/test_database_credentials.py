"""Every MySQL instance the app writes to (the primary and each shard) has its own app
user: a secret beside the master's, created at deploy time by the user provisioner, and
rotated multi-user (alternating users) only once that user exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.stage_cache import StageCache, props, resources
from tests.test_secret_access import Resolver

MULTI_USER_APP = "SecretsManagerRDSMySQLRotationMultiUser"


def _rotation_application(template: dict[str, Any], schedule: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    logical_id = props(schedule)["RotationLambdaARN"]["Fn::GetAtt"][0]
    application = template["Resources"][logical_id]
    mapping_id = application["Properties"]["Location"]["ApplicationId"]["Fn::FindInMap"][0]
    return json.dumps(template["Mappings"][mapping_id]), application


@pytest.mark.parametrize("stage_number", [0, 5])
def test_each_database_has_an_app_user_rotated_multi_user(stages: StageCache, stage_number: int) -> None:
    stage = stages[stage_number]
    template = stage.templates["scaling-data"]
    resolver = Resolver(stage)
    instances = {
        key.split("/")[1]: resource
        for key, resource in resources(stage, "AWS::RDS::DBInstance").items()
        if "SourceDBInstanceIdentifier" not in props(resource)
    }
    users = resources(stage, "Custom::DatabaseAppUser")
    assert len(users) == len(instances) == 1 + (stage.config.shards if stage_number >= 5 else 0)
    schedules = {
        next(iter(resolver.secrets("scaling-data", props(s)["SecretId"]))): s
        for s in resources(stage, "AWS::SecretsManager::RotationSchedule").values()
    }
    for key, user in users.items():
        logical_id = key.split("/")[1]
        (master,) = resolver.secrets("scaling-data", props(user)["MasterSecretArn"])
        (app,) = resolver.secrets("scaling-data", props(user)["AppSecretArn"])
        generated = props(template["Resources"][app.split("/")[1]])["GenerateSecretString"]
        text, refs = resolver.render("scaling-data", generated["SecretStringTemplate"])
        fields = json.loads(text)
        assert fields["username"] == "app" and fields["dbname"] == "app"
        assert resolver.secrets("scaling-data", refs[fields["masterarn"]]) == {master}
        assert template["Resources"][app.split("/")[1]]["DeletionPolicy"] == "Retain"
        mapping, application = _rotation_application(template, schedules[app])
        assert MULTI_USER_APP in mapping
        assert logical_id in application["DependsOn"], "rotation starts only once the user exists"
        master_mapping, _ = _rotation_application(template, schedules[master])
        assert MULTI_USER_APP not in master_mapping, "the master keeps single-user rotation"
    assert set(schedules) >= {
        next(iter(resolver.secrets("scaling-data", props(i)["MasterUserPassword"]))) for i in instances.values()
    }


def test_the_user_provisioner_runs_in_the_data_subnets_with_pymysql_bundled(stages: StageCache) -> None:
    stage = stages[0]
    functions = {
        key: resource
        for key, resource in resources(stage, "AWS::Lambda::Function").items()
        if "DatabaseUserProvisionerHandler" in key
    }
    ((key, function),) = functions.items()
    assert props(function)["VpcConfig"]["SubnetIds"], key
    asset = stage.outdir / f"asset.{props(function)['Code']['S3Key'].removesuffix('.zip')}"
    assert (asset / "app.py").is_file() and (asset / "pymysql" / "__init__.py").is_file(), key
    assert not list(asset.rglob("__pycache__")), "caches would change the asset hash"
