"""The Helm chart: lint, schema validation, and the registry-derived routing/authz contract."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml
from deploy_support import (
    CHART,
    ENVS,
    KUBERNETES_VERSION,
    NAMESPACE,
    ROOT,
    Renderer,
    by_kind,
    check,
    load_yaml,
    run,
    venv_tool,
)

from eco2 import registry

VALUES = load_yaml(CHART / "values.yaml")
# Kinds the chart renders that kubernetes-validate has no schema for (CRDs): checked below.
CRD_KINDS = {
    "AuthorizationPolicy": "security.istio.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
    "Gateway": "networking.istio.io/v1",
    "VirtualService": "networking.istio.io/v1",
    "ServiceEntry": "networking.istio.io/v1",
    "ExternalSecret": "external-secrets.io/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "Telemetry": "telemetry.istio.io/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
}
# Both authz modes in both environments.
VARIANTS = [(env, mode) for env in ENVS for mode in ("sidecar", "central")]


def docs_for(render: Renderer, env: str, mode: str, *sets: str) -> list[dict[str, Any]]:
    return render.docs(env, f"authz.mode={mode}", *sets)


def domain_workload(name: str) -> str:
    return f"eco2-{name}"


def worker(name: str) -> str:
    return f"eco2-{name}-worker"


# --- helm lint / kubernetes-validate ---------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_helm_lint(helm: str, env: str) -> None:
    check(
        [
            helm,
            "lint",
            str(CHART),
            "--strict",
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBERNETES_VERSION,
            "-f",
            str(CHART / f"values-{env}.yaml"),
        ]
    )


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_rendered_core_kinds_pass_strict_kubernetes_schemas(
    render: Renderer, env: str, mode: str
) -> None:
    text = render.text(env, f"authz.mode={mode}")
    result = run(
        [venv_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "-"],
        input_text=text,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    docs = [d for d in yaml.safe_load_all(text) if d]
    core = [d for d in docs if d["kind"] not in CRD_KINDS]
    passed = re.findall(r"passed for resource (\S+)/(\S+) against", output)
    assert len(passed) == len(core), output
    unvalidated = set(re.findall(r"Couldn't find schema for kind (\w+)", output))
    assert unvalidated <= set(CRD_KINDS), f"core kinds without a schema: {unvalidated}"


# Fields of the CRD specs the chart uses, per the Istio / ESO / prometheus-operator APIs: a typo
# (e.g. `notpaths`) would otherwise be accepted silently by the API server's pruning.
CRD_SPEC_FIELDS = {
    "AuthorizationPolicy": {"selector", "action", "provider", "rules", "targetRefs"},
    "PeerAuthentication": {"selector", "mtls", "portLevelMtls"},
    "Gateway": {"selector", "servers"},
    "VirtualService": {"hosts", "gateways", "http", "exportTo"},
    "ServiceEntry": {
        "hosts",
        "addresses",
        "ports",
        "location",
        "resolution",
        "endpoints",
        "exportTo",
        "workloadSelector",
    },
    "ExternalSecret": {"refreshInterval", "secretStoreRef", "target", "data", "dataFrom"},
    "ServiceMonitor": {"selector", "namespaceSelector", "endpoints", "jobLabel"},
    "PrometheusRule": {"groups"},
    "Telemetry": {"selector", "targetRefs", "tracing", "metrics", "accessLogging"},
    "ScaledObject": {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "idleReplicaCount",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "advanced",
        "triggers",
    },
    "TriggerAuthentication": {"secretTargetRef", "env", "hashiCorpVault", "podIdentity"},
}
# The redis-streams trigger's metadata keys (KEDA docs, scalers/redis-streams).
KEDA_REDIS_STREAMS_FIELDS = {
    "address",
    "host",
    "port",
    "usernameFromEnv",
    "passwordFromEnv",
    "stream",
    "consumerGroup",
    "pendingEntriesCount",
    "streamLength",
    "lagCount",
    "activationLagCount",
    "enableTLS",
    "unsafeSsl",
    "databaseIndex",
}
AUTHZ_RULE_FIELDS = {"from", "to", "when"}
AUTHZ_SOURCE_FIELDS = {
    "principals",
    "notPrincipals",
    "namespaces",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "requestPrincipals",
    "notRequestPrincipals",
}
AUTHZ_OPERATION_FIELDS = {
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
}
VS_HTTP_FIELDS = {
    "name",
    "match",
    "route",
    "headers",
    "timeout",
    "retries",
    "corsPolicy",
    "rewrite",
    "redirect",
    "fault",
    "mirror",
}
SM_ENDPOINT_FIELDS = {
    "port",
    "path",
    "interval",
    "scrapeTimeout",
    "scheme",
    "tlsConfig",
    "relabelings",
    "metricRelabelings",
}


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_crd_kinds_are_structurally_valid(render: Renderer, env: str, mode: str) -> None:
    for doc in docs_for(render, env, mode):
        kind = doc["kind"]
        if kind not in CRD_KINDS:
            continue
        where = f"{kind}/{doc['metadata']['name']}"
        assert doc["apiVersion"] == CRD_KINDS[kind], where
        assert doc["metadata"].get("namespace"), where
        assert set(doc["spec"]) <= CRD_SPEC_FIELDS[kind], where
        if kind == "AuthorizationPolicy":
            assert doc["spec"]["action"] in {"ALLOW", "DENY", "AUDIT", "CUSTOM"}, where
            for rule in doc["spec"]["rules"]:
                assert set(rule) <= AUTHZ_RULE_FIELDS, where
                for source in rule.get("from", []):
                    assert set(source) == {"source"}, where
                    assert set(source["source"]) <= AUTHZ_SOURCE_FIELDS, where
                for op in rule.get("to", []):
                    assert set(op) == {"operation"}, where
                    assert set(op["operation"]) <= AUTHZ_OPERATION_FIELDS, where
        if kind == "VirtualService":
            for route in doc["spec"]["http"]:
                assert set(route) <= VS_HTTP_FIELDS, where
                assert route["route"][0]["destination"]["host"], where
        if kind == "ServiceMonitor":
            for endpoint in doc["spec"]["endpoints"]:
                assert set(endpoint) <= SM_ENDPOINT_FIELDS, where
        if kind == "PrometheusRule":
            for group in doc["spec"]["groups"]:
                for rule in group["rules"]:
                    assert {"alert", "expr", "labels", "annotations"} <= set(rule), where
                    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        if kind == "ScaledObject":
            for trigger in doc["spec"]["triggers"]:
                assert trigger["type"] == "redis-streams", where
                assert set(trigger["metadata"]) <= KEDA_REDIS_STREAMS_FIELDS, where
                assert all(isinstance(v, str) for v in trigger["metadata"].values()), where
        if kind == "ExternalSecret":
            for item in doc["spec"]["data"]:
                assert set(item) == {"secretKey", "remoteRef"}, where
                assert item["remoteRef"]["key"].startswith("/eco2/"), where


def test_values_schema_rejects_bad_values(helm: str) -> None:
    for bad in (
        "authz.mode=bogus",
        "unknownTopLevel=1",
        "domains.authz.prefixes={/x}",
        "config.lower_case=x",
        "istio.peerAuthentication.mode=DISABLE",
    ):
        result = run([helm, "template", "eco2", str(CHART), "--set", bad])
        assert result.returncode != 0, f"schema accepted {bad}"
        assert "values don't meet the specifications of the schema" in result.stderr, bad


# --- the registry is the single source ---------------------------------------------------------


def test_values_domains_equal_registry() -> None:
    assert set(VALUES["domains"]) == set(registry.DOMAIN_NAMES)
    for domain in registry.DOMAINS:
        entry = VALUES["domains"][domain.name]
        assert tuple(entry["prefixes"]) == domain.prefixes, domain.name
        assert tuple(entry.get("publicPaths", ())) == domain.public_paths, domain.name
    assert tuple(VALUES["platformPublicPaths"]) == registry.PLATFORM_PUBLIC_PATHS


@pytest.mark.parametrize("env", ENVS)
def test_virtualservice_routes_equal_registry_longest_prefix_first(
    render: Renderer, env: str
) -> None:
    (vs,) = by_kind(render.docs(env), "VirtualService").values()
    routes = []
    for http in vs["spec"]["http"]:
        (match,) = http["match"]
        assert set(match["uri"]) == {"prefix"}
        host = http["route"][0]["destination"]["host"]
        service = host.removesuffix(f".{NAMESPACE}.svc.cluster.local")
        routes.append((match["uri"]["prefix"], service.removeprefix("eco2-")))
    assert sorted(routes) == sorted(registry.route_table())
    assert not any(p.startswith("/internal") for p, _ in routes)
    # First match wins: a prefix never precedes a longer prefix that extends it.
    for i, (earlier, _) in enumerate(routes):
        for later, _ in routes[i + 1 :]:
            assert not later.startswith(earlier), f"{later} is shadowed by {earlier}"
    # Clients cannot forge the identity headers the authorizer injects.
    for http in vs["spec"]["http"]:
        assert {"x-user-id", "x-auth-provider"} <= set(http["headers"]["request"]["remove"])


def istio_path_match(pattern: str, path: str) -> bool:
    """Istio AuthorizationPolicy path semantics: exact, `prefix*`, `*suffix` or `*`."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def sample_paths() -> set[str]:
    paths = {"/", "/internal/users/x", "/docs", "/docs/openapi.json", "/healthz", "/metrics/x"}
    for domain in registry.DOMAINS:
        for prefix in domain.prefixes:
            paths |= {prefix, prefix + "/", prefix + "/me", prefix + "x"}
    for public in registry.public_paths():
        base = public.rstrip("*")
        paths |= {base, base + "/", base + "/extra", base[:-1]}
    return paths


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_ext_authz_policy_skips_exactly_the_registry_public_paths(
    render: Renderer, env: str, mode: str
) -> None:
    docs = docs_for(render, env, mode)
    custom = [
        p for p in by_kind(docs, "AuthorizationPolicy").values() if p["spec"]["action"] == "CUSTOM"
    ]
    (policy,) = custom
    assert policy["spec"]["provider"]["name"] == VALUES["authz"]["providers"][mode]
    assert policy["spec"]["selector"]["matchLabels"]["eco2.io/role"] == "domain"
    (rule,) = policy["spec"]["rules"]
    (to,) = rule["to"]
    not_paths = to["operation"]["notPaths"]
    assert sorted(not_paths) == sorted(registry.public_paths())
    # A trailing `*` is the registry's "this prefix" and Istio's prefix match; none elsewhere.
    assert all("*" not in p[:-1] for p in not_paths)
    for path in sample_paths():
        checked = not any(istio_path_match(p, path) for p in not_paths)
        assert checked == (not registry.is_public(path)), path
    # Only traffic from the ingress gateway carries user tokens.
    (source,) = rule["from"]
    assert source["source"]["principals"] == ["cluster.local/ns/istio-ingress/sa/istio-ingress"]


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_every_domain_gets_deployment_service_hpa_pdb(
    render: Renderer, env: str, mode: str
) -> None:
    docs = docs_for(render, env, mode)
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    hpas, pdbs = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "PodDisruptionBudget")
    accounts = by_kind(docs, "ServiceAccount")
    expected = {domain_workload(n) for n in registry.DOMAIN_NAMES}
    if mode == "central":
        expected.add("eco2-authz")
    workers = {worker(n) for n in registry.JOB_DOMAINS}
    assert set(deployments) == set(services) == set(pdbs) == expected | workers
    assert set(hpas) == expected  # workers: KEDA owns their replica count
    assert expected | workers <= set(accounts)
    for name in registry.DOMAIN_NAMES:
        deployment = deployments[domain_workload(name)]
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        app = pod["spec"]["containers"][0]
        assert app["args"][:3] == ["serve", "--domain", name]
        assert app["args"][app["args"].index("--host") + 1] == "0.0.0.0"  # noqa: S104
        env_vars = {e["name"]: e.get("value") for e in app["env"]}
        assert env_vars["ECO2_AUTH_TRUST_GATEWAY"] == "true"
        assert app["livenessProbe"]["httpGet"]["path"] == "/health"
        assert app["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert pod["spec"]["serviceAccountName"] == domain_workload(name)
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        svc = services[domain_workload(name)]
        assert svc["spec"]["selector"].items() <= labels.items()
        assert svc["spec"]["ports"][0]["port"] == 8000
        hpa = hpas[domain_workload(name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == domain_workload(name)
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        pdb = pdbs[domain_workload(name)]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_pods_run_hardened(render: Renderer, env: str, mode: str) -> None:
    docs = docs_for(render, env, mode)
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in {"Deployment", "Job"}]
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, container["name"]
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert not container["image"].endswith(":latest")
            assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp"}  # noqa: S108


def test_authz_sidecar_mode(render: Renderer) -> None:
    docs = docs_for(render, "dev", "sidecar")
    for name in registry.DOMAIN_NAMES:
        pod = by_kind(docs, "Deployment")[domain_workload(name)]["spec"]["template"]["spec"]
        assert [c["name"] for c in pod["containers"]] == ["domain", "authz"]
        authz = pod["containers"][1]
        assert authz["args"][0] == "authz"
        assert authz["readinessProbe"]["httpGet"]["path"] == "/ready"
    (entry,) = by_kind(docs, "ServiceEntry").values()
    assert entry["spec"]["hosts"] == [VALUES["authz"]["localHost"]]
    assert entry["spec"]["endpoints"] == [{"address": "127.0.0.1"}]
    assert entry["spec"]["resolution"] == "STATIC"
    assert entry["spec"]["ports"][0]["number"] == VALUES["ports"]["authzGrpc"]


def test_authz_central_mode(render: Renderer) -> None:
    docs = docs_for(render, "prod", "central")
    deployments = by_kind(docs, "Deployment")
    authz = deployments["eco2-authz"]["spec"]["template"]["spec"]["containers"]
    assert [c["args"][0] for c in authz] == ["authz"]
    for name in registry.DOMAIN_NAMES:
        pod = deployments[domain_workload(name)]["spec"]["template"]["spec"]
        assert [c["name"] for c in pod["containers"]] == ["domain"]
    assert not by_kind(docs, "ServiceEntry")
    ports = {p["name"]: p["port"] for p in by_kind(docs, "Service")["eco2-authz"]["spec"]["ports"]}
    assert ports["grpc"] == VALUES["ports"]["authzGrpc"]
    allow = by_kind(docs, "AuthorizationPolicy")["eco2-authz-allow"]
    assert allow["spec"]["action"] == "ALLOW"


def test_adding_a_domain_is_one_values_entry(render: Renderer) -> None:
    docs = render.docs(
        "dev",
        "domains.chat.prefixes={/api/v1/chat}",
        "domains.chat.publicPaths={/api/v1/chat/demo}",
    )
    for kind in (
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceAccount",
    ):
        assert "eco2-chat" in by_kind(docs, kind), kind
    (vs,) = by_kind(docs, "VirtualService").values()
    assert any(h["match"][0]["uri"]["prefix"] == "/api/v1/chat" for h in vs["spec"]["http"])
    custom = by_kind(docs, "AuthorizationPolicy")["eco2-ext-authz"]
    assert "/api/v1/chat/demo" in custom["spec"]["rules"][0]["to"][0]["operation"]["notPaths"]
    config = by_kind(docs, "ConfigMap")["eco2-config"]["data"]
    assert "chat=http://eco2-chat:8000" in config["ECO2_SERVICE_URLS"].split(",")


def test_workloads_and_routes_render_separately(render: Renderer) -> None:
    route_kinds = {"Gateway", "VirtualService", "Ingress"}
    workloads_only = {d["kind"] for d in render.docs("dev", "routes.enabled=false")}
    routes = render.docs("dev", "workloads.enabled=false")
    assert not workloads_only & route_kinds
    # the gateway's tracing comes with the routes, the sidecars' with the workloads
    assert {d["kind"] for d in routes} == route_kinds | {"Telemetry"}
    assert set(by_kind(routes, "Telemetry")) == {"eco2-gateway-tracing"}


# --- security policies --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_mesh_mtls_is_strict(render: Renderer, env: str) -> None:
    (peer,) = by_kind(render.docs(env), "PeerAuthentication").values()
    assert peer["spec"]["mtls"]["mode"] == "STRICT"


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_network_policies_default_deny_with_explicit_allows(
    render: Renderer, env: str, mode: str
) -> None:
    policies = by_kind(docs_for(render, env, mode), "NetworkPolicy")
    deny = policies["eco2-default-deny"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    assert deny["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "eco2",
        "app.kubernetes.io/instance": "eco2",
    }

    ingress = policies["eco2-domains-ingress"]["spec"]["ingress"]
    sources = [peer for rule in ingress for peer in rule["from"]]
    namespaces = {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in sources
        if "namespaceSelector" in p
    }
    assert namespaces == {"istio-ingress", "monitoring"}

    egress = policies["eco2-egress"]["spec"]["egress"]
    ports = {(p["port"], p["protocol"]) for rule in egress for p in rule["ports"]}
    assert {
        (53, "UDP"),
        (53, "TCP"),
        (5432, "TCP"),
        (6379, "TCP"),
        (443, "TCP"),
        (15012, "TCP"),
    } <= ports
    https = next(r for r in egress if r["ports"] == [{"port": 443, "protocol": "TCP"}])
    assert "169.254.169.254/32" in https["to"][0]["ipBlock"]["except"]
    assert ("eco2-authz-ingress" in policies) == (mode == "central")


# --- tracing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "mode"), VARIANTS)
def test_every_app_container_exports_traces_to_the_collector(
    render: Renderer, env: str, mode: str
) -> None:
    """OTEL_* on each eco2 container (named for its workload), Istio's Envoys reporting to the
    same collector, and the egress that lets both reach it."""
    docs = docs_for(render, env, mode)
    tracing = VALUES["tracing"]
    env_values = load_yaml(CHART / f"values-{env}.yaml").get("tracing", {})
    for name, deployment in by_kind(docs, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            variables = {e["name"]: e.get("value") for e in container["env"]}
            service = "eco2-authz" if container["name"] == "authz" else name
            assert variables["OTEL_SERVICE_NAME"] == service, (name, container["name"])
            assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"] == tracing["endpoint"]
            assert variables["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
            sampled = env_values.get("samplerArg", tracing["samplerArg"])
            assert variables["OTEL_TRACES_SAMPLER_ARG"] == sampled
            assert "k8s.pod.name=$(K8S_POD_NAME)" in variables["OTEL_RESOURCE_ATTRIBUTES"]
    telemetry = by_kind(docs, "Telemetry")
    assert {t["metadata"]["namespace"] for t in telemetry.values()} == {"eco2", "istio-ingress"}
    for resource in telemetry.values():
        (rule,) = resource["spec"]["tracing"]
        assert rule["providers"] == [{"name": tracing["istio"]["provider"]}]
        assert 0 < rule["randomSamplingPercentage"] <= 100
    gateway = telemetry["eco2-gateway-tracing"]["spec"]["selector"]["matchLabels"]
    assert gateway == VALUES["istio"]["gateway"]["selector"]
    egress = by_kind(docs, "NetworkPolicy")["eco2-egress"]["spec"]["egress"]
    (to_collector,) = [
        rule
        for rule in egress
        if rule["to"][0].get("namespaceSelector", {}).get("matchLabels", {})
        == {"kubernetes.io/metadata.name": tracing["collector"]["namespace"]}
    ]
    assert {p["port"] for p in to_collector["ports"]} == {4317, 4318}


def test_tracing_off_renders_no_tracing(render: Renderer) -> None:
    docs = render.docs("prod", "tracing.enabled=false")
    assert by_kind(docs, "Telemetry") == {}
    for deployment in by_kind(docs, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert not any(e["name"].startswith("OTEL_") for e in container.get("env", []))


def test_dashboard_links_metrics_to_traces(render: Renderer) -> None:
    dashboards = by_kind(render.docs("prod"), "ConfigMap")["eco2-dashboards"]
    (dashboard_json,) = dashboards["data"].values()
    dashboard = json.loads(dashboard_json)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["traces"]["query"] == "tempo"
    trace_panels = [
        p for p in dashboard["panels"] if p.get("datasource", {}).get("type") == "tempo"
    ]
    assert trace_panels
    assert all(t["queryType"] == "traceql" for p in trace_panels for t in p["targets"])
    links = [
        link["url"]
        for p in dashboard["panels"]
        for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    # a domain's panel opens that domain's traces: service names are the workloads' names
    assert any('resource.service.name=\\"eco2-${__field.labels.domain}\\"' in u for u in links)
    assert dashboard["links"][0]["url"].startswith("/explore?")


# --- configuration and secrets -----------------------------------------------------------------

CHART_MANAGED_SETTINGS = {"ECO2_AUTH_TRUST_GATEWAY", "ECO2_SERVICE_URLS", "ECO2_JOBS_IN_PROCESS"}


def settings_env_names() -> dict[str, set[str]]:
    """Field of eco2.settings.Settings -> the env names that set it (parsed, not imported):
    ECO2_<FIELD>, plus the names of a validation_alias=AliasChoices(...)."""
    tree = ast.parse((ROOT / "src" / "eco2" / "settings.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    fields = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = {f"ECO2_{node.target.id.upper()}"}
            for call in ast.walk(node.value) if node.value else ():
                if isinstance(call, ast.keyword) and call.arg == "validation_alias":
                    names |= {
                        c.value
                        for c in ast.walk(call.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    }
            fields[node.target.id] = names
    return fields


def test_every_setting_is_wired_through_configmap_or_secret() -> None:
    config, secrets = set(VALUES["config"]), set(VALUES["secrets"]["keys"])
    assert not config & secrets
    wired = config | secrets | CHART_MANAGED_SETTINGS
    unwired = sorted(min(names) for names in settings_env_names().values() if not names & wired)
    assert not unwired, f"add these settings to values.yaml config or secrets.keys: {unwired}"
    secretish = re.compile(r"SECRET|_TOKEN$|PASSWORD|SIGNING_KEYS|DATABASE_URL|REDIS_URL|_KEY$")
    assert not {k for k in config if secretish.search(k)}, "secrets belong in secrets.keys"


@pytest.mark.parametrize("env", ENVS)
def test_config_and_secret_reach_every_container(render: Renderer, env: str) -> None:
    docs = render.docs(env)
    config = by_kind(docs, "ConfigMap")["eco2-config"]["data"]
    assert config["ECO2_ENV"] == env
    assert config["ECO2_SERVICE_URLS"].split(",") == [
        f"{n}=http://eco2-{n}:8000" for n in sorted(registry.DOMAIN_NAMES)
    ]
    (external,) = by_kind(docs, "ExternalSecret").values()
    assert external["spec"]["target"]["name"] == "eco2-env"
    assert {d["secretKey"] for d in external["spec"]["data"]} == set(VALUES["secrets"]["keys"])
    assert all(d["remoteRef"]["key"].startswith(f"/eco2/{env}/") for d in external["spec"]["data"])
    for doc in docs:
        if doc["kind"] not in {"Deployment", "Job"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
            assert refs == {"eco2-config", "eco2-env"}, doc["metadata"]["name"]


# --- job workers -------------------------------------------------------------------------------


def test_values_workers_equal_the_registry_job_domains() -> None:
    assert set(VALUES["workers"]["domains"]) == set(registry.JOB_DOMAINS)


@pytest.mark.parametrize("env", ENVS)
def test_a_worker_per_job_domain_scaled_on_its_queue(render: Renderer, env: str) -> None:
    from eco2.platform.jobs import CONSUMER_GROUP, stream_key

    docs = render.docs(env)
    deployments = by_kind(docs, "Deployment")
    scaled = by_kind(docs, "ScaledObject")
    (auth,) = by_kind(docs, "TriggerAuthentication").values()
    config = by_kind(docs, "ConfigMap")["eco2-config"]["data"]
    drain = float(config["ECO2_JOBS_DRAIN_SECONDS"])
    assert set(scaled) == {worker(n) for n in registry.JOB_DOMAINS}
    for name in registry.JOB_DOMAINS:
        pod = deployments[worker(name)]["spec"]["template"]
        (app,) = pod["spec"]["containers"]
        assert app["args"][:3] == ["worker", "--domain", name]
        port = int(app["args"][app["args"].index("--port") + 1])
        assert app["ports"] == [{"name": "http", "containerPort": port}]
        assert app["readinessProbe"]["httpGet"]["path"] == "/ready"
        # The pod is given the drain and a margin: running jobs finish or go back in time.
        grace = pod["spec"]["terminationGracePeriodSeconds"]
        assert drain < grace <= drain + 60
        assert "replicas" not in deployments[worker(name)]["spec"], "KEDA owns the replicas"
        spec = scaled[worker(name)]["spec"]
        assert spec["scaleTargetRef"]["name"] == worker(name)
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["metadata"]["stream"] == stream_key(name)
        assert trigger["metadata"]["consumerGroup"] == CONSUMER_GROUP
        assert int(trigger["metadata"]["streamLength"]) > 0
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["name"] == "eco2-env"
    assert ref["key"] in VALUES["secrets"]["keys"]
    for name in registry.DOMAIN_NAMES:  # the web pods leave the jobs to the workers
        (app, *_) = deployments[domain_workload(name)]["spec"]["template"]["spec"]["containers"]
        env_vars = {e["name"]: e.get("value") for e in app["env"]}
        assert env_vars["ECO2_JOBS_IN_PROCESS"] == "false"


def test_without_workers_the_domain_pods_run_the_jobs(render: Renderer) -> None:
    docs = render.docs("dev", "workers.enabled=false")
    assert not by_kind(docs, "ScaledObject")
    deployments = by_kind(docs, "Deployment")
    assert not {worker(n) for n in registry.JOB_DOMAINS} & set(deployments)
    for name in registry.DOMAIN_NAMES:
        (app, *_) = deployments[domain_workload(name)]["spec"]["template"]["spec"]["containers"]
        assert "ECO2_JOBS_IN_PROCESS" not in {e["name"] for e in app["env"]}


def test_without_keda_workers_have_fixed_replicas(render: Renderer) -> None:
    docs = render.docs("dev", "workers.keda.enabled=false")
    assert not by_kind(docs, "ScaledObject")
    assert not by_kind(docs, "TriggerAuthentication")
    deployments = by_kind(docs, "Deployment")
    for name in registry.JOB_DOMAINS:
        assert deployments[worker(name)]["spec"]["replicas"] >= 1


# --- migrations, observability, edge -----------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_migration_job_is_a_postsync_hook_with_delete_policy(render: Renderer, env: str) -> None:
    (job,) = by_kind(render.docs(env), "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert "BeforeHookCreation" in annotations["argocd.argoproj.io/hook-delete-policy"]
    assert annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"][:2] == ["db", "upgrade"]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"


@pytest.mark.parametrize("env", ENVS)
def test_observability(render: Renderer, env: str) -> None:
    docs = render.docs(env)
    (monitor,) = by_kind(docs, "ServiceMonitor").values()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"http", "authz-http"}
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    dashboards = by_kind(docs, "ConfigMap")["eco2-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    (dashboard_json,) = dashboards["data"].values()
    dashboard = json.loads(dashboard_json)
    exprs = " ".join(t.get("expr", "") for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "eco2_requests_total",
        "eco2_request_duration_seconds_bucket",
        "eco2_authz_decisions_total",
        "eco2_authz_check_duration_seconds_bucket",
        "eco2_scan_step_duration_seconds_bucket",
    ):
        assert metric in exprs, metric
    (rules,) = by_kind(docs, "PrometheusRule").values()
    alerts = {r["alert"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert {"Eco2HighErrorRate", "Eco2AuthzErrors", "Eco2PodsNotReady"} <= alerts


@pytest.mark.parametrize("env", ENVS)
def test_alb_bridge_ingress_targets_the_istio_gateway(render: Renderer, env: str) -> None:
    (ingress,) = by_kind(render.docs(env), "Ingress").values()
    assert ingress["metadata"]["namespace"] == VALUES["istio"]["gateway"]["namespace"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "instance"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": VALUES["istio"]["gateway"]["service"], "port": {"number": 80}}
