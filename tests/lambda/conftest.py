"""Handlers run against moto: a DynamoDB table shaped like the stage-5 table, and each
handler module loaded fresh (it creates its boto3 client at import, inside the mock)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

LAMBDA_ROOT = Path(__file__).resolve().parents[2] / "lambda"
TABLE = "app-table"


@dataclass(frozen=True)
class Context:
    """The parts of the Lambda context Powertools' Logger reads."""

    function_name: str = "handler-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:handler-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "handler-test")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        yield client


@pytest.fixture
def load_handler(table: Any) -> Callable[[str], ModuleType]:
    def load(function: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"handler_{function}", LAMBDA_ROOT / function / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def context() -> Context:
    return Context()
