"""OpenTelemetry through the real app: a request on a real socket yields a server span and
client spans for MySQL and Redis in one trace, log lines carry its id, AWS calls are spans."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service import telemetry
from service.config import ConfigError
from tests.service.conftest import Service, base_env, cache_env


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert telemetry.enable(env={}, exporter=exporter)
    try:
        yield exporter
    finally:
        telemetry.disable()


@pytest.fixture(scope="module")
def traced(spans: InMemorySpanExporter, start_service: Any, run_id: str) -> Service:
    # Its own cache prefix: another database's user with the same id must not be a cache hit here.
    env = base_env(run_id, "otel", APP_STAGE="4", **cache_env(f"{run_id}_otel"))
    return start_service(env, [env["DB_NAME"]])


def _server_spans(spans: InMemorySpanExporter, count: int = 1) -> list[ReadableSpan]:
    """The finished server spans, once there are `count`: the service's thread ends a server span
    just after the client has read the response, so wait (boundedly) for it."""
    deadline = time.monotonic() + 5
    while True:
        server = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
        if len(server) >= count or time.monotonic() > deadline:
            return server
        time.sleep(0.01)


def _one_trace(spans: InMemorySpanExporter, route: str) -> list[ReadableSpan]:
    server = [s for s in _server_spans(spans) if s.attributes.get("http.route") == route]
    finished = spans.get_finished_spans()
    assert len(server) == 1, [s.name for s in finished]
    trace_id = server[0].context.trace_id
    return [s for s in finished if s.context.trace_id == trace_id]


def test_a_request_yields_http_database_and_cache_spans_in_one_trace(
    traced: Service, spans: InMemorySpanExporter
) -> None:
    user = traced.signed_in_user("otel_reader")
    spans.clear()
    response = traced.client.get(f"/users/{user.user_id}")  # type: ignore[attr-defined]
    assert response.status_code == 200 and response.headers["x-cache"] == "miss"

    in_trace = _one_trace(spans, "/users/{user_id}")
    server = next(s for s in in_trace if s.kind == trace.SpanKind.SERVER)
    assert server.name == "GET /users/{user_id}"
    assert 200 in (server.attributes.get("http.status_code"), server.attributes.get("http.response.status_code"))
    # Database and cache spans (the test's own HTTPX call is a client span of the same trace too).
    clients = [
        s
        for s in in_trace
        if s.kind == trace.SpanKind.CLIENT and ("db.system.name" in s.attributes or "db.system" in s.attributes)
    ]
    queries = [s for s in clients if s.attributes.get("db.system.name") == "mysql"]
    assert queries and {s.attributes["db.operation.name"] for s in queries} == {"SELECT"}
    assert {s.attributes["db.namespace"] for s in queries} == {traced.settings.writer.database}  # type: ignore[union-attr]
    assert all(s.attributes["server.port"] == traced.settings.writer.port for s in queries)  # type: ignore[union-attr]
    assert all("%s" in str(s.attributes["db.query.text"]) for s in queries), "statements, never values"
    cache = [s for s in clients if s.attributes.get("db.system") == "redis"]
    assert cache, [s.name for s in clients]
    assert all(s.parent is not None and s.parent.trace_id == server.context.trace_id for s in clients)


def test_a_traced_caller_continues_its_trace_in_the_service(traced: Service, spans: InMemorySpanExporter) -> None:
    """What the posts service's HTTPX calls to the users service do at stage 6."""
    tracer = trace.get_tracer("test", tracer_provider=telemetry._active.provider)  # type: ignore[union-attr]
    spans.clear()
    with tracer.start_as_current_span("caller") as caller:
        assert traced.client.get("/users/999999").status_code == 404
    [server] = _server_spans(spans)
    assert server.context.trace_id == caller.get_span_context().trace_id
    assert server.name == "GET /users/{user_id}"


def test_a_bad_sample_ratio_is_one_clear_error() -> None:
    for raw in ("abc", "1.5", "-0.1"):
        with pytest.raises(ConfigError, match=rf"TRACE_SAMPLE_RATIO must be a number from 0 to 1, got '{raw}'"):
            telemetry.sample_ratio({"TRACE_SAMPLE_RATIO": raw})
    assert telemetry.sample_ratio({}) == telemetry.DEFAULT_SAMPLE_RATIO


def test_health_checks_are_not_traced(traced: Service, spans: InMemorySpanExporter) -> None:
    spans.clear()
    assert traced.client.get("/health").status_code == 200
    # A traced request after it, on the same connection: by the time its span is in, a span for
    # the health check would be too.
    assert traced.client.get("/users/999999").status_code == 404
    assert [s.name for s in _server_spans(spans)] == ["GET /users/{user_id}"]


class _Sent(Exception):
    """Stops a request at the wire, after botocore has signed it and the instrumentation has run."""


def test_aws_sdk_calls_are_client_spans_and_carry_the_xray_header_sqs_passes_on(
    spans: InMemorySpanExporter,
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    headers: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> None:
        headers.update(request.headers)
        raise _Sent

    sqs.meta.events.register("before-send.sqs.SendMessage", capture)
    spans.clear()
    with pytest.raises(_Sent):
        sqs.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/q", MessageBody="{}")
    # Only this call's span: a traced service of this session may finish its own (heartbeats) meanwhile.
    [span] = [s for s in spans.get_finished_spans() if s.attributes and s.attributes.get("rpc.service") == "SQS"]
    assert span.kind == trace.SpanKind.CLIENT
    assert (span.attributes["rpc.service"], span.attributes["rpc.method"]) == ("SQS", "SendMessage")
    # SQS turns this header into the message's AWSTraceHeader, which the traced Lambda continues.
    xray = headers["X-Amzn-Trace-Id"].decode()
    assert xray.startswith(f"Root=1-{format(span.context.trace_id, '032x')[:8]}-")
    assert f"Parent={format(span.context.span_id, '016x')}" in xray


def test_log_lines_are_json_with_the_trace_id(spans: InMemorySpanExporter) -> None:
    formatter = telemetry.JsonFormatter()
    record = logging.LogRecord("service", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    outside = orjson.loads(formatter.format(record))
    assert outside["message"] == "hello there" and outside["trace_id"] is None
    with trace.get_tracer("test", tracer_provider=telemetry._active.provider).start_as_current_span("x") as span:  # type: ignore[union-attr]
        inside = orjson.loads(formatter.format(record))
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")


def test_without_a_collector_nothing_is_instrumented() -> None:
    assert telemetry.enable(env={}) is (telemetry._active is not None)
    telemetry.disable()
    assert telemetry.enable(env={}) is False
    assert telemetry.middleware() == []
    assert telemetry.db_span("SELECT 1", {"db.namespace": "app"}) is telemetry.db_span("SELECT 2", {})
