"""Configuration from the environment, secrets by ARN, and the boot-time env file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from service import shardmap
from service.config import ConfigError, Settings
from service.shardmap import build_shard_map

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "service" / "deploy"))
import write_env

SECRETS = {
    "arn:db": json.dumps({"username": "app", "password": "db-pass", "engine": "mysql"}),
    "arn:cache-json": json.dumps({"password": "cache-pass"}),
    "arn:cache-plain": "plain-cache-pass",
}


def test_capabilities_follow_the_variables_present_and_secrets_come_from_arns() -> None:
    bare = Settings.from_env({"DB_WRITER_HOST": "db", "DB_USER": "u"}, SECRETS.__getitem__)
    assert bare.capabilities()["cache"] is False and bare.capabilities()["sessions"] == "database"
    assert bare.readers == () and bare.writer is not None and bare.writer.database == "app"

    shard_map = shardmap.build_shard_map([{"id": "s0", "host": "h0", "secret_arn": "arn:db"}])
    full = Settings.from_env(
        {
            "APP_STAGE": "5",
            "DB_WRITER_HOST": "w",
            "DB_SECRET_ARN": "arn:db",
            "DB_READER_HOST": "r1, r2:3307",
            "CACHE_HOST": "c",
            "CACHE_TLS": "true",
            "CACHE_AUTH_SECRET_ARN": "arn:cache-plain",
            "SHARD_MAP": json.dumps(shard_map),
        },
        SECRETS.__getitem__,
    )
    assert full.writer is not None and (full.writer.user, full.writer.password) == ("app", "db-pass")
    assert [(r.host, r.port) for r in full.readers] == [("r1", 3306), ("r2", 3307)]
    assert full.cache is not None and full.cache.tls and full.cache.password == "plain-cache-pass"
    assert full.shards[0].endpoint.password == "db-pass"
    # Secret values never show in the settings' text, which may be logged.
    assert "db-pass" not in repr(full) and "plain-cache-pass" not in repr(full)

    json_secret = Settings.from_env(
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "CACHE_HOST": "c", "CACHE_AUTH_SECRET_ARN": "arn:cache-json"},
        SECRETS.__getitem__,
    )
    assert json_secret.cache is not None and json_secret.cache.password == "cache-pass"


def test_a_tls_ca_bundle_applies_to_every_database_endpoint() -> None:
    env = {
        "DB_WRITER_HOST": "db",
        "DB_USER": "u",
        "DB_READER_HOST": "r1,r2:3310",
        "DB_TLS_CA_FILE": "/etc/ssl/rds-global-bundle.pem",
        "SHARD_MAP": json.dumps(build_shard_map([{"id": "shard-0", "host": "s0", "port": 3307}])),
    }
    settings = Settings.from_env(env, SECRETS.__getitem__)
    endpoints = [settings.writer, *settings.readers, *(shard.endpoint for shard in settings.shards)]
    assert len(endpoints) == 4
    assert {endpoint.tls_ca_file for endpoint in endpoints} == {"/etc/ssl/rds-global-bundle.pem"}
    plain = Settings.from_env({"DB_WRITER_HOST": "db", "DB_USER": "u"}, SECRETS.__getitem__)
    assert plain.writer is not None and plain.writer.tls_ca_file is None


@pytest.mark.parametrize(
    "env",
    [
        {"DB_WRITER_HOST": "w"},
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "SERVICE_ROLE": "admin"},
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "CACHE_HOST": "c", "CACHE_TLS": "maybe"},
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "SHARD_MAP": '{"version": 1}'},
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "DB_READER_HOST": "r:abc"},
        {"DB_WRITER_HOST": "w", "DB_USER": "u", "DB_READER_HOST": "r:\u00b2"},
    ],
)
def test_bad_configuration_is_refused_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env, SECRETS.__getitem__)


class StubSsm:
    """moto's SSM imports its whole EC2 model (about 2.5 s here); the test needs one call."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters = parameters

    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:
        return {"Parameter": {"Name": Name, "Value": self.parameters[Name]}}


def test_write_env_turns_the_ssm_parameter_into_a_systemd_environment_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"APP_STAGE": "3", "DB_WRITER_HOST": "db.internal", "SHARD_MAP": {"a": 'q"uote\\'}}
    output = tmp_path / "env"
    ssm = StubSsm({"/app/config": json.dumps(config)})
    monkeypatch.setattr(write_env.boto3, "client", lambda name, region_name: ssm)
    monkeypatch.setattr(
        sys, "argv", ["write_env", "--parameter", "/app/config", "--region", "eu-west-1", "--output", str(output)]
    )
    write_env.main()
    assert output.read_text().splitlines() == [
        'APP_STAGE="3"',
        'AWS_REGION="eu-west-1"',
        'DB_WRITER_HOST="db.internal"',
        'SHARD_MAP="{\\"a\\": \\"q\\\\\\"uote\\\\\\\\\\"}"',
    ]
    assert output.stat().st_mode & 0o777 == 0o600
    for bad in ("bad-name", "APP_STAGE\n"):
        with pytest.raises(ValueError, match="not an environment variable name"):
            write_env.render({bad: "x"})
