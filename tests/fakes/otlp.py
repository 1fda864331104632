"""An OpenTelemetry collector on 127.0.0.1: ``POST /v1/traces`` (OTLP/HTTP, protobuf) decoded
with opentelemetry-proto, every span kept for the test to read."""

from __future__ import annotations

import contextlib
import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict
from litestar import Litestar, Request, Response, post
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from tests.fakes.live import serve_fake


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str  # SERVER, CLIENT, INTERNAL, ...
    service: str
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]  # (trace id, span id)


@dataclass
class Collector:
    url: str = ""
    spans: list[Span] = field(default_factory=list)

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(_span(s, service) for s in scope_spans.spans)

    def wait_for(self, done: Callable[[list[Span]], bool], timeout: float = 30.0) -> list[Span]:
        """The spans once ``done(spans)`` holds (spans arrive in batches), else fail."""
        deadline = time.monotonic() + timeout
        while not done(list(self.spans)):
            if time.monotonic() > deadline:
                names = sorted({f"{s.service}: {s.name}" for s in self.spans})
                raise AssertionError(f"spans never complete; got {names}")
            time.sleep(0.1)
        return list(self.spans)

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id == trace_id]


def _span(proto: SpanProto, service: str) -> Span:
    return Span(
        trace_id=proto.trace_id.hex(),
        span_id=proto.span_id.hex(),
        parent_id=proto.parent_span_id.hex(),
        name=proto.name,
        kind=SpanProto.SpanKind.Name(proto.kind).removeprefix("SPAN_KIND_"),
        service=service,
        attributes=_attributes(proto.attributes),
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in proto.links),
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        value = MessageToDict(pair.value)
        values[pair.key] = next(iter(value.values()), None) if value else None
    return values


@contextlib.contextmanager
def otlp_collector() -> Iterator[Collector]:
    def app(collector: Collector) -> Litestar:
        @post("/v1/traces", status_code=200)
        async def traces(request: Request[Any, Any, Any]) -> Response[bytes]:
            body = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            collector.receive(body)
            return Response(
                ExportTraceServiceResponse().SerializeToString(),
                media_type="application/x-protobuf",
            )

        return Litestar([traces])

    with serve_fake(Collector(), app) as collector:
        yield collector
