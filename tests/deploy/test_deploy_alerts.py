"""Alerts that can fire: every PrometheusRule expression reads metrics the code exports (or
Kubernetes/Prometheus do), and every alert links to its section of docs/runbook.md."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import pytest
from deploy_support import ENVS, ROOT, Renderer, by_kind
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY, CollectorRegistry

import eco2
from eco2.authz import metrics as authz_metrics

RUNBOOK = ROOT / "docs" / "runbook.md"
# Series from kube-state-metrics and Prometheus itself (kube-prometheus-stack).
PLATFORM_METRICS = {
    "up",
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_available",
}
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
# A metric name is an identifier followed by its selector or range: `name{...}` or `name[5m]`.
METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")


def series_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry can expose, children or not yet."""
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def alerts(render: Renderer, env: str) -> list[dict[str, Any]]:
    (rule,) = by_kind(render.docs(env), "PrometheusRule").values()
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("env", ENVS)
async def test_alerts_read_only_exported_metrics(
    render: Renderer, env: str, client: AsyncTestClient[Litestar]
) -> None:
    """Every module of the code loaded (some only load with a provider configured) and the
    whole app after one request (its HTTP metrics exist from the first request on)."""
    for module in pkgutil.walk_packages(eco2.__path__, "eco2."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    assert (await client.get("/health")).status_code == 200
    exported = series_names(REGISTRY) | series_names(authz_metrics.REGISTRY) | PLATFORM_METRICS
    for alert in alerts(render, env):
        used = set(METRIC.findall(alert["expr"]))
        assert used, alert["alert"]
        assert used <= exported, f"{alert['alert']} reads unknown metrics: {used - exported}"


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_has_a_runbook_section(render: Renderer, env: str) -> None:
    anchors = runbook_anchors()
    for alert in alerts(render, env):
        url = alert["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page.endswith("/docs/runbook.md"), url
        assert anchor == alert["alert"].lower(), url
        assert anchor in anchors, f"docs/runbook.md has no section {alert['alert']}"
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]


def test_the_alerts_cover_what_users_feel(render: Renderer) -> None:
    names = {a["alert"] for a in alerts(render, "prod")}
    assert {
        "Eco2HighErrorRate",
        "Eco2DependencyUnavailable",
        "Eco2ModelCallErrors",
        "Eco2SseStreamsHigh",
        "Eco2AuthzDenySpike",
        "Eco2JobBacklogOld",
        "Eco2JobFailures",
        "Eco2JobsGivenUp",
    } <= names
    (deny_spike,) = [a for a in alerts(render, "prod") if a["alert"] == "Eco2AuthzDenySpike"]
    assert "by (reason)" in deny_spike["expr"]
