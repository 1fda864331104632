"""The split plan wiring (the processes themselves are exercised by the e2e module)."""

from __future__ import annotations

import pytest

from eco2 import registry
from eco2.authz.envoy import Upstream
from eco2.devsplit import SplitPlan, child_env, otlp_collector


def test_every_domain_gets_a_port_and_knows_the_others() -> None:
    plan = SplitPlan.allocate(8000)
    assert list(plan.domains) == list(registry.DOMAIN_NAMES)
    assert len({*plan.domains.values(), plan.authz_grpc, plan.authz_http, plan.envoy_admin}) == (
        len(plan.domains) + 3
    )
    urls = dict(entry.split("=", 1) for entry in plan.service_urls().split(","))
    assert urls == {name: f"http://127.0.0.1:{port}" for name, port in plan.domains.items()}


def test_children_trust_the_gateway_and_authz_reads_the_auth_jwks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ECO2_AUTHZ_JWKS_URL", "ECO2_INTERNAL_TOKEN", "ECO2_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    plan = SplitPlan.allocate(8000, ["auth", "users"])
    env = child_env(plan, "http://localhost:8000")
    assert env["ECO2_AUTH_TRUST_GATEWAY"] == "true"
    assert env["ECO2_AUTHZ_JWKS_URL"] == (
        f"http://127.0.0.1:{plan.domains['auth']}/api/v1/auth/.well-known/jwks.json"
    )
    assert env["ECO2_INTERNAL_TOKEN"]
    assert env["ECO2_PUBLIC_BASE_URL"] == "http://localhost:8000"


def test_without_auth_authz_falls_back_to_local_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECO2_AUTHZ_JWKS_URL", raising=False)
    env = child_env(SplitPlan.allocate(8000, ["users"]), "http://localhost:8000")
    assert "ECO2_AUTHZ_JWKS_URL" not in env


@pytest.mark.parametrize(
    ("env", "collector"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, Upstream("127.0.0.1", 4318)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector"}, Upstream("collector", 80)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318"}, None),  # no TLS cluster
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            None,
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_the_gateway_reports_to_the_processes_collector(
    env: dict[str, str], collector: Upstream | None
) -> None:
    assert otlp_collector(env) == collector
