"""Prometheus: per-route request counts and latency histograms, served at ``/metrics``."""

from __future__ import annotations

import time
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.plugins.prometheus import (
    PrometheusConfig,
    PrometheusController,
    PrometheusMiddleware,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import REGISTRY

from eco2.platform.revocations import revocation_metrics
from eco2.platform.verified_tokens import token_cache_counter

METRICS_PREFIX = "eco2"
# The authentication's caches (filled only where the app verifies tokens itself).
REVOCATIONS = revocation_metrics(METRICS_PREFIX, REGISTRY)
TOKEN_CACHE = token_cache_counter(METRICS_PREFIX, REGISTRY)


class RouteMetrics(PrometheusMiddleware):
    """Litestar's Prometheus middleware (the same metrics, names and labels: method, route
    template, status code, app name) at a fraction of its cost per request: the labelled
    series of a route are looked up once and kept, where the original builds a request object,
    label dictionaries and five label look-ups per request. A request refused by a middleware
    inside this one counts with the refusal's status (the original counted it as a 200).
    Ignores the config's extra ``labels`` and ``exemplars`` (none are configured)."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._finished: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        return {
            "method": method,
            "path": path,
            "status_code": status,
            "app_name": self._config.app_name,
        }

    def _progress(self, method: str, path: str) -> Any:
        series = self._in_progress.get((method, path))
        if series is None:
            labels = self._labels(method, path, 200)  # as Litestar labels it
            series = self.requests_in_progress(labels).labels(*labels.values())
            self._in_progress[(method, path)] = series
        return series

    def _outcome(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        series = self._finished.get((method, path, status))
        if series is None:
            labels = self._labels(method, path, status)
            values = labels.values()
            errors = self.requests_error_count(labels).labels(*values)
            series = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                errors if status >= HTTP_500_INTERNAL_SERVER_ERROR else None,
            )
            self._finished[(method, path, status)] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = cast("HTTPScope", scope)["method"]  # HTTP only (the config's scopes)
        path = scope["path_template"]  # group_path: the route, not the raw path
        progress = self._progress(method, path)
        started = time.perf_counter()
        status, ended = 200, started

        async def observed_send(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                ended = time.perf_counter()
            await send(message)

        progress.inc()
        try:
            await self.app(scope, receive, observed_send)
        except Exception as exc:
            # Raised by a middleware inside this one (authentication, the input policy): the
            # app's outermost exception handler answers it with the error's status.
            status, ended = getattr(exc, "status_code", 500), time.perf_counter()
            raise
        finally:
            progress.dec()
            count, duration, errors = self._outcome(method, path, status)
            if errors is not None:
                errors.inc()
            count.inc()
            duration.observe(ended - started)


def prometheus_config(app_name: str) -> PrometheusConfig:
    # group_path: label by route template (/chat/{id}), not raw path, to bound cardinality.
    return PrometheusConfig(
        app_name=app_name,
        prefix=METRICS_PREFIX,
        group_path=True,
        exclude=["/metrics"],
        scopes={ScopeType.HTTP},
        buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        middleware_class=RouteMetrics,
    )


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
