"""OpenTelemetry for the service: server spans for HTTP, client spans for MySQL, Redis and the
AWS SDK, and JSON log lines that carry the trace id.

Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT names a collector (the stage's telemetry
construct runs one beside the service and sets it); spans then go there over OTLP/HTTP, in
batches, with X-Ray-compatible trace ids and the X-Ray header on AWS calls, so a message sent
to SQS carries the trace to the worker Lambda. Without it nothing is instrumented and the hot path
pays one `is None` check per query (`db_span`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
# Share of new traces kept (a sampled parent is always followed); X-Ray bills per trace.
SAMPLE_RATIO_VARIABLE = "TRACE_SAMPLE_RATIO"
DEFAULT_SAMPLE_RATIO = 0.1
# Load balancer health checks every few seconds would drown the traces that matter.
UNTRACED_PATHS = "/health"

_active: _Tracing | None = None


class _Tracing:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("service")


def enable(env: Mapping[str, str] | None = None, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process when `env` names a collector, or always with `exporter`
    (spans exported one by one: tests read them back). Returns whether tracing is on."""
    global _active
    env = os.environ if env is None else env
    endpoint = env.get(ENDPOINT_VARIABLE, "").strip()
    if _active is not None or (exporter is None and not endpoint):
        return _active is not None
    # Imported here: a service without a collector never loads the SDK or the instrumentations.
    from opentelemetry import propagate
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    ratio = 1.0 if exporter is not None else sample_ratio(env)
    provider = TracerProvider(
        resource=Resource.create({"service.name": env.get(SERVICE_NAME_VARIABLE) or "scaling-app"}),
        id_generator=AwsXRayIdGenerator(),
        sampler=ParentBased(TraceIdRatioBased(ratio)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    # W3C for the service's own peers, X-Ray's header for what AWS services pass on.
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()]))
    RedisInstrumentor().instrument(tracer_provider=provider)
    BotocoreInstrumentor().instrument(tracer_provider=provider)
    # The posts service's calls to the users service (stage 6) carry the trace across.
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _active = _Tracing(provider)
    return True


def sample_ratio(env: Mapping[str, str]) -> float:
    raw = env.get(SAMPLE_RATIO_VARIABLE) or str(DEFAULT_SAMPLE_RATIO)
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"{SAMPLE_RATIO_VARIABLE} must be a number from 0 to 1, got {raw!r}")
    return ratio


def disable() -> None:
    """Undo `enable`: flush and stop exporting, remove the Redis, AWS SDK and HTTPX instrumentation."""
    global _active
    if _active is None:
        return
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().uninstrument()
    BotocoreInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    _active.provider.shutdown()
    _active = None


def middleware() -> list[Middleware]:
    """Starlette middleware for server spans (outermost first); none while tracing is off."""
    if _active is None:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return [
        Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=_active.provider,
            excluded_urls=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
        ),
        Middleware(_RouteName),
    ]


class _RouteName:
    """Names the server span after the matched route ("GET /users/{user_id}"), not the raw
    path, so spans group by endpoint; Starlette records the route in the scope while routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            # The span ends with the response, so it is named when the response starts.
            route = getattr(scope.get("route"), "path", None)
            if message["type"] == "http.response.start" and route:
                span = trace.get_current_span()
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, send_named)


def db_attributes(*, host: str, port: int, database: str, route: str, shard: str | None) -> dict[str, str | int]:
    """The database semantic-convention attributes of one connection pool's spans."""
    attributes: dict[str, str | int] = {
        "db.system.name": "mysql",
        "db.namespace": database,
        "server.address": host,
        "server.port": port,
        "app.db.route": route,
    }
    if shard is not None:
        attributes["app.db.shard"] = shard
    return attributes


def db_span(sql: str, attributes: Mapping[str, str | int]) -> AbstractContextManager[Any]:
    """A client span around one MySQL statement (asyncmy has no instrumentation of its own);
    a no-op while tracing is off."""
    if _active is None:
        return _NO_SPAN
    return _db_span(_active.tracer, sql, attributes)


_NO_SPAN = nullcontext()


@contextmanager
def _db_span(tracer: trace.Tracer, sql: str, attributes: Mapping[str, str | int]) -> Iterator[trace.Span]:
    operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "QUERY"
    with tracer.start_as_current_span(
        f"{operation} {attributes['db.namespace']}",
        kind=trace.SpanKind.CLIENT,
        # Parameterised text only: the values travel separately and are never recorded.
        attributes={**attributes, "db.operation.name": operation, "db.query.text": sql},
    ) as span:
        yield span


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the current trace and span ids
    (null outside a traced request) and any exception, for CloudWatch Logs Insights."""

    def format(self, record: logging.LogRecord) -> str:
        context = trace.get_current_span().get_span_context()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
            "span_id": format(context.span_id, "016x") if context.is_valid else None,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """Every log line of the process, the service's and uvicorn's, as JSON on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
