"""The generated Envoy bootstrap: derived from the registry, checked by Envoy itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from eco2 import registry
from eco2.authz.envoy import AUTHZ_CLUSTER, Upstream, bootstrap, envoy_binary

LOCAL = "127.0.0.1"


def config(traces: Upstream | None = None) -> dict[str, Any]:
    domains = {d.name: Upstream(LOCAL, 20000 + i) for i, d in enumerate(registry.DOMAINS)}
    return bootstrap(
        listen=Upstream(LOCAL, 8000),
        admin=Upstream(LOCAL, 9901),
        authz=Upstream(LOCAL, 50051),
        domains=domains,
        traces=traces,
    )


def _manager(cfg: dict[str, Any]) -> dict[str, Any]:
    listener = cfg["static_resources"]["listeners"][0]
    typed: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return typed


def test_routes_follow_the_registry_longest_prefix_first() -> None:
    routes = _manager(config())["route_config"]["virtual_hosts"][0]["routes"]
    assert [(r["match"]["path_separated_prefix"], r["route"]["cluster"]) for r in routes] == [
        (prefix, f"eco2_{domain}") for prefix, domain in registry.route_table()
    ]
    assert not any("typed_per_filter_config" in r for r in routes)  # authz sees everything


def test_ext_authz_fails_closed_and_reads_only_credentials() -> None:
    authz = _manager(config())["http_filters"][0]["typed_config"]
    assert authz["grpc_service"]["envoy_grpc"]["cluster_name"] == AUTHZ_CLUSTER
    assert authz["failure_mode_allow"] is False
    assert authz["status_on_error"] == {"code": "ServiceUnavailable"}  # never a 403
    assert "with_request_body" not in authz
    assert {p["exact"] for p in authz["allowed_headers"]["patterns"]} >= {"cookie", "authorization"}


def test_the_check_sees_the_requests_trace_headers() -> None:
    authz = _manager(config())["http_filters"][0]["typed_config"]
    allowed = {p["exact"] for p in authz["allowed_headers"]["patterns"]}
    assert {"traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid"} <= allowed
    assert "x-b3-sampled" in allowed


def test_the_gateway_is_traced_only_with_a_collector() -> None:
    assert "tracing" not in _manager(config())
    traced = config(traces=Upstream(LOCAL, 4318))
    provider = _manager(traced)["tracing"]["provider"]
    assert provider["name"] == "envoy.tracers.opentelemetry"
    uri = provider["typed_config"]["http_service"]["http_uri"]
    assert uri["uri"] == "http://127.0.0.1:4318/v1/traces"
    clusters = {c["name"] for c in traced["static_resources"]["clusters"]}
    assert uri["cluster"] in clusters


@pytest.mark.parametrize("traces", [None, Upstream(LOCAL, 4318)])
def test_envoy_accepts_the_bootstrap(tmp_path: Path, traces: Upstream | None) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config(traces)))
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
