"""The generated Envoy bootstrap: derived from the registry, checked by Envoy itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from eco2 import registry
from eco2.authz.envoy import AUTHZ_CLUSTER, Upstream, bootstrap, envoy_binary

LOCAL = "127.0.0.1"


def config() -> dict[str, Any]:
    domains = {d.name: Upstream(LOCAL, 20000 + i) for i, d in enumerate(registry.DOMAINS)}
    return bootstrap(
        listen=Upstream(LOCAL, 8000),
        admin=Upstream(LOCAL, 9901),
        authz=Upstream(LOCAL, 50051),
        domains=domains,
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


def test_envoy_accepts_the_bootstrap(tmp_path: Path) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config()))
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
