"""Prometheus: per-route request counts and latency histograms, served at ``/metrics``."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import REGISTRY

from eco2.platform.revocations import revocation_metrics
from eco2.platform.verified_tokens import token_cache_counter

METRICS_PREFIX = "eco2"
# The identity guard's caches (filled only where the app verifies tokens itself).
REVOCATIONS = revocation_metrics(METRICS_PREFIX, REGISTRY)
TOKEN_CACHE = token_cache_counter(METRICS_PREFIX, REGISTRY)


def prometheus_config(app_name: str) -> PrometheusConfig:
    # group_path: label by route template (/chat/{id}), not raw path, to bound cardinality.
    return PrometheusConfig(
        app_name=app_name,
        prefix=METRICS_PREFIX,
        group_path=True,
        exclude=["/metrics"],
        buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    )


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
