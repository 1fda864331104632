"""OpenTelemetry traces: one trace per request across processes, exported over OTLP.

Nothing is installed unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its ``_TRACES_`` variant) is
set: no provider, no patched library, no extra middleware or log processor, so the request path
costs what it did. When it is set, :func:`setup_tracing` installs, once per process:

* a ``TracerProvider`` whose sampler comes from the standard ``OTEL_TRACES_SAMPLER`` and
  ``OTEL_TRACES_SAMPLER_ARG`` (default ``parentbased_always_on``: a caller's decision is kept),
  batching spans to the OTLP exporter (``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf`` by
  default, or ``grpc``; endpoint, headers and timeouts from the standard variables);
* propagators for W3C ``traceparent`` + ``baggage`` and B3 in both its multi-header and its
  single-header form (Envoy's Zipkin tracer, Istio's default, speaks B3), extracted and
  injected, unless ``OTEL_PROPAGATORS`` names others;
* client spans for httpx (the internal client between domains, OAuth, outbound fetches) and
  redis (every command), which also carry the context to the next hop.

The app adds the server span (:func:`http_plugin`, Litestar's OpenTelemetry middleware) and
traces its engine's SQL (:func:`trace_engine`); ``eco2 authz`` joins the request's trace
(:func:`check_context`); scan and chat wrap model calls (``platform/model_calls.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from eco2 import __version__

if TYPE_CHECKING:
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import Attributes
    from sqlalchemy.ext.asyncio import AsyncEngine

# OpenTelemetry is imported where it is used: a process without tracing never loads it.
TRACER_NAME = "eco2"
# Probes and scrapes are not requests anyone follows.
UNTRACED_PATHS = ["^/health$", "^/ready$", "^/metrics$"]

_provider: TracerProvider | None = None


def otlp_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process exports traces (the standard variables decide)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def enabled() -> bool:
    """Whether :func:`setup_tracing` installed tracing in this process."""
    return _provider is not None


def setup_tracing(service_name: str) -> bool:
    """Install tracing for this process if OTLP export is configured; idempotent.

    ``service_name`` is used unless ``OTEL_SERVICE_NAME`` names the service."""
    global _provider
    if _provider is not None:
        return True
    if not otlp_configured():
        return False
    from opentelemetry import propagate, trace
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, str] = {SERVICE_VERSION: __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service_name
    provider = TracerProvider(resource=Resource.create(attributes))  # sampler: OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    if not os.environ.get("OTEL_PROPAGATORS"):
        propagate.set_global_textmap(_propagator())
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    _provider = provider
    return True


def _exporter() -> SpanExporter:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    return HTTPSpanExporter()


def _propagator() -> TextMapPropagator:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # Extraction runs in order, a later format winning: traceparent, when sent, decides.
    return CompositePropagator(
        [B3MultiFormat(), B3SingleFormat(), TraceContextTextMapPropagator(), W3CBaggagePropagator()]
    )


def http_plugin() -> OpenTelemetryPlugin:
    """The server span of each HTTP request (Litestar's OpenTelemetry middleware, outermost)."""
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    return OpenTelemetryPlugin(
        OpenTelemetryConfig(exclude=UNTRACED_PATHS, exclude_spans=["receive", "send"])
    )


def trace_engine(engine: AsyncEngine) -> None:
    """A client span per SQL statement on ``engine`` (a no-op when tracing is off)."""
    if _provider is None:
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__ as version
    from opentelemetry.metrics import get_meter

    # What SQLAlchemyInstrumentor().instrument(engine=...) does, but per engine: the
    # instrumentor is a process-wide singleton that instruments only its first engine.
    name = "opentelemetry.instrumentation.sqlalchemy"
    connections = get_meter(name, version).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer(name, version), engine.sync_engine, connections)  # type: ignore[no-untyped-call]


def tracer() -> Tracer:
    from opentelemetry import trace

    return trace.get_tracer(TRACER_NAME, __version__)


@contextmanager
def span(
    name: str,
    kind: str = "internal",
    *,
    parent: Context | None = None,
    linked: Span | None = None,
    attributes: Attributes = None,
) -> Iterator[Span]:
    """A span of ``kind`` (server, client, consumer, ...) under ``parent`` (default: the
    current span), linked to the span ``linked``; an exception ends it with an error status."""
    from opentelemetry.trace import Link, SpanKind

    links = [Link(linked.get_span_context())] if linked is not None else None
    with tracer().start_as_current_span(
        name, context=parent, kind=SpanKind[kind.upper()], links=links, attributes=attributes
    ) as current:
        yield current


def current_ids() -> tuple[str, str] | None:
    """The current span's trace and span ids as hex, if there is a span."""
    from opentelemetry import trace

    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def record_request_id(request_id: str) -> None:
    from opentelemetry import trace

    current = trace.get_current_span()
    if current.is_recording():
        current.set_attribute("request_id", request_id)


def check_context(*carriers: Mapping[str, str]) -> Context:
    """The trace a check belongs to: from the first carrier that names one (``eco2 authz``:
    the gRPC metadata of a traced gateway, else the checked request's own headers)."""
    from opentelemetry import context, propagate, trace

    for carrier in carriers:
        extracted = propagate.extract(carrier)
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
    return context.get_current()


def context_carrier() -> dict[str, str]:
    """The current trace context as headers (``traceparent``, ...), for work queued now."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def job_span(
    kind: str, job_id: str, carrier: Mapping[str, str] | None = None, *, attempt: int = 1
) -> Iterator[None]:
    """One attempt of a job as a span. ``carrier`` holds the submitting request's context (put
    in the job's payload by :func:`context_carrier` when it was queued); without one, the
    current context. The attempt continues that trace and links to the request's span."""
    if _provider is None:
        yield
        return
    from opentelemetry import context, propagate, trace

    parent = propagate.extract(carrier) if carrier is not None else context.get_current()
    submitted = trace.get_current_span(parent)
    with span(
        f"{kind} job",
        "consumer",
        parent=parent,
        linked=submitted if submitted.get_span_context().is_valid else None,
        attributes={"eco2.job.kind": kind, "eco2.job.id": job_id, "eco2.job.attempt": attempt},
    ):
        yield


def metadata_carrier(metadata: Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    """gRPC invocation metadata as a text carrier (binary entries skipped)."""
    return {k: v for k, v in metadata or () if isinstance(v, str)}
