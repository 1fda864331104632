"""The ArgoCD app-of-apps: waves in dependency order, pinned charts, safe sync policies."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from deploy_support import ARGOCD, ENVS, KUBERNETES_VERSION, check, load_yaml, run, venv_tool

# app -> apps it needs to be healthy first.
DEPENDS_ON = {
    "pod-identity-webhook": {"cert-manager", "namespaces"},
    "istio-base": {"namespaces"},
    "istio-cni": {"istio-base"},
    "istiod": {"istio-base"},
    "istio-ingress": {"istiod", "istio-cni"},
    "external-secrets": {"namespaces", "pod-identity-webhook"},
    "kube-prometheus-stack": {"namespaces"},
    "tempo": {"namespaces"},
    "opentelemetry-collector": {"tempo"},
    "cloudnative-pg": {"namespaces"},
    "keda": {"namespaces"},
    "platform-config": {"external-secrets"},
    "aws-load-balancer-controller": {"pod-identity-webhook", "cert-manager"},
    "external-dns": {"pod-identity-webhook"},
    "postgres": {"cloudnative-pg", "platform-config", "kube-prometheus-stack"},
    "valkey": {"platform-config", "kube-prometheus-stack"},
    "eco2": {
        "postgres",
        "valkey",
        "istiod",
        "platform-config",
        "kube-prometheus-stack",
        "keda",
        "opentelemetry-collector",
    },
    "eco2-routes": {"eco2", "istio-ingress", "aws-load-balancer-controller", "external-dns"},
}
PINNED = re.compile(r"^v?\d+\.\d+\.\d+$")


def applications(helm: str, env: str) -> dict[str, dict[str, Any]]:
    out = check(
        [
            helm,
            "template",
            "root",
            str(ARGOCD / "apps"),
            "--kube-version",
            KUBERNETES_VERSION,
            "-f",
            str(ARGOCD / "apps" / f"values-{env}.yaml"),
        ]
    )
    docs = [d for d in yaml.safe_load_all(out) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Application"}


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


@pytest.mark.parametrize("env", ENVS)
def test_root_app_of_apps(env: str) -> None:
    root = load_yaml(ARGOCD / "root" / f"{env}.yaml")
    assert root["kind"] == "Application"
    source = root["spec"]["source"]
    assert source["path"] == "deploy/argocd/apps"
    assert source["helm"]["valueFiles"] == ["values.yaml", f"values-{env}.yaml"]


@pytest.mark.parametrize("env", ENVS)
def test_helm_lint_apps_and_platform(helm: str, env: str) -> None:
    for chart in ("apps", "platform"):
        check(
            [
                helm,
                "lint",
                str(ARGOCD / chart),
                "--strict",
                "-f",
                str(ARGOCD / chart / f"values-{env}.yaml"),
            ]
        )


@pytest.mark.parametrize("env", ENVS)
def test_sync_waves_follow_dependencies(helm: str, env: str) -> None:
    apps = applications(helm, env)
    assert set(apps) == set(DEPENDS_ON) | {"namespaces", "cert-manager"}
    assert wave(apps["namespaces"]) == min(wave(a) for a in apps.values())
    assert wave(apps["eco2"]) == 40
    assert wave(apps["eco2-routes"]) == 50
    assert max(wave(a) for a in apps.values()) == 50
    for name, needs in DEPENDS_ON.items():
        for need in needs:
            assert wave(apps[need]) < wave(apps[name]), f"{name} must sync after {need}"


@pytest.mark.parametrize("env", ENVS)
def test_chart_versions_pinned_and_sync_policies_safe(helm: str, env: str) -> None:
    for name, app in applications(helm, env).items():
        source = app["spec"]["source"]
        if "chart" in source:
            assert PINNED.match(source["targetRevision"]), f"{name}: {source['targetRevision']}"
        else:
            assert source["targetRevision"] == ("main" if env == "dev" else "prod")
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"]["selfHeal"] is True, name
        if name in {"namespaces", "postgres", "valkey"}:
            assert policy["automated"]["prune"] is False, f"{name} must never auto-prune"


@pytest.mark.parametrize("env", ENVS)
def test_controllers_that_mutate_webhooks_are_ignored(helm: str, env: str) -> None:
    apps = applications(helm, env)
    for name in ("istio-base", "istiod", "aws-load-balancer-controller"):
        kinds = {d["kind"] for d in apps[name]["spec"]["ignoreDifferences"]}
        assert "ValidatingWebhookConfiguration" in kinds, name
    extension = apps["istiod"]["spec"]["source"]["helm"]["valuesObject"]["meshConfig"]
    names = {p["name"] for p in extension["extensionProviders"]}
    assert names == {"eco2-ext-authz", "eco2-ext-authz-local", "otel-tracing"}


@pytest.mark.parametrize("env", ENVS)
def test_eco2_apps_split_workloads_and_routes(helm: str, env: str) -> None:
    apps = applications(helm, env)
    for name, disabled in (("eco2", "routes"), ("eco2-routes", "workloads")):
        helm_source = apps[name]["spec"]["source"]["helm"]
        assert apps[name]["spec"]["source"]["path"] == "deploy/helm/eco2"
        assert helm_source["releaseName"] == "eco2"
        assert helm_source["valueFiles"] == ["values.yaml", f"values-{env}.yaml"]
        assert helm_source["valuesObject"] == {disabled: {"enabled": False}}


def test_namespaces_are_valid_and_label_the_mesh() -> None:
    path = ARGOCD / "namespaces" / "namespaces.yaml"
    result = run(
        [venv_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    namespaces = {d["metadata"]["name"]: d for d in yaml.safe_load_all(path.read_text())}
    assert namespaces["eco2"]["metadata"]["labels"]["istio-injection"] == "enabled"


@pytest.mark.parametrize("env", ENVS)
def test_traces_flow_from_app_and_mesh_through_the_collector_to_tempo(helm: str, env: str) -> None:
    """The eco2 chart's endpoint and istiod's otel-tracing provider name the collector's
    Service; the collector exports to Tempo; Grafana reads Tempo (pinned images)."""
    apps = applications(helm, env)

    def values(name: str) -> dict[str, Any]:
        found: dict[str, Any] = apps[name]["spec"]["source"]["helm"]["valuesObject"]
        return found

    collector, tempo = values("opentelemetry-collector"), values("tempo")
    namespace = apps["opentelemetry-collector"]["spec"]["destination"]["namespace"]
    service = f"{collector['fullnameOverride']}.{namespace}.svc.cluster.local"
    chart = load_yaml(ARGOCD.parent / "helm" / "eco2" / "values.yaml")["tracing"]
    assert chart["endpoint"] == f"http://{service}:4318"
    assert chart["collector"]["namespace"] == namespace
    providers = values("istiod")["meshConfig"]["extensionProviders"]
    (otel,) = [p["opentelemetry"] for p in providers if p["name"] == chart["istio"]["provider"]]
    assert (otel["service"], otel["port"]) == (service, 4317)
    exporter = collector["config"]["exporters"]["otlp/tempo"]["endpoint"]
    tempo_namespace = apps["tempo"]["spec"]["destination"]["namespace"]
    assert exporter == f"tempo.{tempo_namespace}.svc.cluster.local:4317"
    assert collector["config"]["service"]["pipelines"]["traces"]["exporters"] == ["otlp/tempo"]
    assert PINNED.match(collector["image"]["tag"])
    assert PINNED.match(tempo["tempo"]["tag"])
    datasources = values("kube-prometheus-stack")["grafana"]["additionalDataSources"]
    (store,) = [d for d in datasources if d["type"] == "tempo"]
    assert store["url"] == f"http://tempo.{tempo_namespace}.svc.cluster.local:3100"
