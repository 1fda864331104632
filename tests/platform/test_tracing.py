"""One trace per request across the split deployment (``eco2 dev split``: Envoy with ext_authz
in front of auth, users, scan and character in their own processes, the gateway traced like
Istio's), exported over OTLP to a collector in this test; log lines that name their trace;
incoming W3C and B3 headers continued; and nothing installed without an endpoint."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eco2.platform import tracing
from eco2.settings import Settings
from tests.fakes.gateway import dev_split, domain_urls, split_env
from tests.fakes.models import FakeServer, Reply, answer_output, fake_openai, response_body
from tests.fakes.otlp import Collector, Span, otlp_collector
from tests.scan.conftest import IMAGE, IMAGE_HOST

pytestmark = pytest.mark.slow

DOMAINS = ("auth", "users", "scan", "character")
ANSWER_MODEL = "gpt-answer-test"


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with otlp_collector() as started:
        yield started


@pytest.fixture(scope="module")
def model() -> Iterator[FakeServer]:
    with fake_openai(Reply(response_body(answer_output()))) as server:
        yield server


@pytest.fixture(scope="module")
def traced_split(
    base_settings: Settings,
    signing_key_pem: str,
    collector: Collector,
    model: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    """The gateway's URL and the directory of its processes' logs (JSON lines)."""
    data_dir = tmp_path_factory.mktemp("traced-split")
    env = split_env(
        base_settings,
        signing_key_pem,
        data_dir,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # ms: spans reach the collector soon after they end
        ECO2_LOG_JSON="true",
        ECO2_LOG_LEVEL="INFO",
        ECO2_LOCATION_IMPORT_ON_START="false",
        ECO2_IMAGE_ALLOWED_HOSTS=IMAGE_HOST,
        ECO2_VISION_PROVIDER="text",
        ECO2_ANSWER_PROVIDER="openai",
        ECO2_OPENAI_ANSWER_MODEL=ANSWER_MODEL,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=model.url,
    )
    with dev_split(env, DOMAINS, data_dir) as url:
        yield url, data_dir / "split"


def traceparent() -> tuple[str, str, str]:
    """(trace id, span id, header) of a sampled span in a caller we pretend to be."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def sign_in(http: httpx.Client, nickname: str, headers: dict[str, str]) -> httpx.Response:
    response = http.post("/api/v1/auth/dev/login", json={"nickname": nickname}, headers=headers)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return response


def by_service(spans: list[Span], service: str) -> list[Span]:
    return [s for s in spans if s.service == service]


def test_one_scan_is_one_trace_from_the_gateway_to_stores_model_and_job(
    traced_split: tuple[str, Path], collector: Collector
) -> None:
    """No trace headers from the client: the gateway starts the trace, as Istio's does."""
    gateway, _ = traced_split
    with httpx.Client(base_url=gateway, timeout=10) as http:
        token = sign_in(http, "추적", {}).cookies["s_access"]
        response = http.post(
            "/api/v1/scan",
            json={"image_url": IMAGE, "user_input": "라벨 뗀 생수 페트병"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 202, response.text
    job_id, request_id = response.json()["job_id"], response.headers["x-request-id"]

    def submitted(spans: list[Span]) -> Span | None:
        return next(
            (
                s
                for s in spans
                if s.service == "eco2-scan" and s.attributes.get("request_id") == request_id
            ),
            None,
        )

    def complete(spans: list[Span]) -> bool:
        submit = submitted(spans)
        ours = [s for s in spans if submit is not None and s.trace_id == submit.trace_id]
        return (
            any(not s.parent_id for s in ours)  # the gateway's root span
            and any(s.service == "eco2-character" for s in ours)
            and any(s.name == "scan job" for s in ours)
        )

    submit = submitted(collector.wait_for(complete))  # Envoy flushes its spans every 5 s
    assert submit is not None
    time.sleep(0.5)  # the last batches of the job's spans
    spans = collector.trace(submit.trace_id)

    # the gateway's span is the root; the check and the domain's server span are its children
    gateway_spans = by_service(spans, "eco2-gateway")
    (root,) = [s for s in spans if not s.parent_id]
    assert root in gateway_spans
    (check,) = by_service(spans, "eco2-authz")
    assert check.name == "envoy.service.auth.v3.Authorization/Check"
    assert check.kind == "SERVER"
    assert check.parent_id in {s.span_id for s in gateway_spans}
    assert check.attributes["eco2.authz.result"] == "allow"
    assert check.attributes["request_id"] == request_id  # the gateway's, in both
    scan = by_service(spans, "eco2-scan")
    assert [s for s in scan if s.kind == "SERVER"] == [submit]
    assert submit.name.startswith("POST /api/v1/scan")
    assert submit.parent_id in {s.span_id for s in gateway_spans}

    # the job continues the request's trace, linked to the request's span
    (job,) = [s for s in scan if s.name == "scan job"]
    assert job.parent_id == submit.span_id
    assert job.links == ((submit.trace_id, submit.span_id),)
    assert job.attributes["eco2.job.id"] == job_id

    # PostgreSQL and Redis under the request, the model call and the reward inside the job
    descendants = _descendants(spans, job.span_id)
    assert any(s.attributes.get("db.system") == "postgresql" for s in scan)
    assert any(s.attributes.get("db.system") == "redis" for s in scan)
    (answer,) = [s for s in descendants if s.attributes.get("gen_ai.request.model")]
    assert answer.attributes["gen_ai.request.model"] == ANSWER_MODEL
    assert answer.attributes["gen_ai.provider.name"] == "openai"
    grant_call = [s for s in descendants if s.kind == "CLIENT" and s.service == "eco2-scan"]
    character = by_service(spans, "eco2-character")
    (grant,) = [s for s in character if s.kind == "SERVER"]
    assert grant.name.startswith("POST /internal/character")
    assert grant.parent_id in {s.span_id for s in grant_call}
    assert any(s.attributes.get("db.system") == "postgresql" for s in character)


def _descendants(spans: list[Span], root: str) -> list[Span]:
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.span_id)
    return found


def test_a_log_line_inside_a_request_names_its_trace(
    traced_split: tuple[str, Path], collector: Collector
) -> None:
    gateway, logs = traced_split
    trace_id, _, header = traceparent()
    with httpx.Client(base_url=gateway, timeout=10) as http:
        request_id = sign_in(http, "로그", {"traceparent": header}).headers["x-request-id"]

    def signed_in() -> dict[str, str] | None:
        for line in (logs / "auth.log").read_text(errors="replace").splitlines():
            if line.startswith("{") and '"signed_in"' in line:
                record: dict[str, str] = json.loads(line)
                if record.get("request_id") == request_id:
                    return record
        return None

    deadline = time.monotonic() + 10
    while (record := signed_in()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert record is not None, (logs / "auth.log").read_text()[-3000:]
    assert record["trace_id"] == trace_id
    spans = collector.wait_for(lambda spans: any(s.span_id == record["span_id"] for s in spans))
    (logged_in,) = [s for s in spans if s.span_id == record["span_id"]]
    assert (logged_in.trace_id, logged_in.service) == (trace_id, "eco2-auth")


def test_a_callers_traceparent_is_continued_through_the_gateway(
    traced_split: tuple[str, Path], collector: Collector
) -> None:
    gateway, _ = traced_split
    trace_id, parent_id, header = traceparent()
    with httpx.Client(base_url=gateway, timeout=10) as http:
        response = http.get("/api/v1/character/catalog", headers={"traceparent": header})
    assert response.status_code == 200

    def served(spans: list[Span]) -> bool:
        ours = [s for s in spans if s.trace_id == trace_id]
        services = {s.service for s in ours}
        entered = any(s.parent_id == parent_id for s in ours)
        return entered and services >= {"eco2-gateway", "eco2-authz", "eco2-character"}

    collector.wait_for(served)  # Envoy flushes its spans every 5 s
    spans = collector.trace(trace_id)
    entered = [(s.service, s.kind) for s in spans if s.parent_id == parent_id]
    assert entered == [("eco2-gateway", "SERVER")], spans


@pytest.mark.parametrize("style", ["traceparent", "b3 multi", "b3 single", "b3 unsampled"])
def test_incoming_trace_headers_are_continued_by_a_domain(
    traced_split: tuple[str, Path], collector: Collector, style: str
) -> None:
    """A domain pod behind Istio's sidecars gets W3C or B3 headers (Envoy's Zipkin tracer
    sends B3, multi- or single-header): its server span continues them; an unsampled parent
    is not exported."""
    _, logs = traced_split
    character = domain_urls(logs.parent)["character"]
    trace_id, parent_id, header = traceparent()
    headers = {
        "traceparent": {"traceparent": header},
        "b3 multi": {"X-B3-TraceId": trace_id, "X-B3-SpanId": parent_id, "X-B3-Sampled": "1"},
        "b3 single": {"b3": f"{trace_id}-{parent_id}-1"},
        "b3 unsampled": {"b3": f"{trace_id}-{parent_id}-0"},
    }[style]
    with httpx.Client(base_url=character, timeout=10) as http:
        assert http.get("/api/v1/character/catalog", headers=headers).status_code == 200
        # a marker request afterwards: once its spans are in, ours would have been too
        marker, _, marker_header = traceparent()
        http.get("/api/v1/character/catalog", headers={"traceparent": marker_header})

    collector.wait_for(lambda spans: any(s.trace_id == marker for s in spans))
    time.sleep(0.3)
    spans = collector.trace(trace_id)
    if style == "b3 unsampled":
        assert spans == []
        return
    (served,) = [s for s in spans if s.parent_id == parent_id]
    assert (served.service, served.kind) == ("eco2-character", "SERVER")


def test_without_an_endpoint_nothing_is_installed() -> None:
    """Tracing off: no provider, no patched library, no middleware (checked in a fresh
    interpreter: this one may have set tracing up)."""
    probe = """
import httpx, redis.asyncio
from opentelemetry import trace
from eco2.app import create_app
from eco2.platform import tracing
from eco2.settings import Settings
app = create_app(settings=Settings(database_url="postgresql://x/y", redis_url="redis://x"))
assert not tracing.enabled()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
assert not hasattr(httpx.AsyncClient.send, "__wrapped__")
assert not hasattr(redis.asyncio.Redis.execute_command, "__wrapped__")
assert "OpenTelemetryPlugin" not in {type(p).__name__ for p in app.plugins}
print("quiet")
"""
    env = {"PATH": "/usr/bin:/bin", "ECO2_NEWS_COLLECT_INTERVAL_SECONDS": "0"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "quiet", done.stderr[-3000:]


@pytest.mark.parametrize(
    ("variables", "exported"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_the_standard_variables_decide(variables: dict[str, str], exported: bool) -> None:
    assert tracing.otlp_configured(variables) is exported
