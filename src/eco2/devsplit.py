"""``eco2 dev split``: the cluster's split topology on one machine.

Every registry domain runs as its own ``eco2 serve --domain X`` (trusting the gateway's
identity headers), next to one ``eco2 authz`` and a real Envoy whose routes and ext_authz
filter come from :mod:`eco2.authz.envoy`. Embedded PostgreSQL/Valkey start once, here, and
reach the children through the environment. Children die with this process (SIGTERM on
Ctrl-C, ``PR_SET_PDEATHSIG`` if it is killed outright), so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from eco2 import registry
from eco2.authz.envoy import Upstream, bootstrap, envoy_binary
from eco2.platform.embedded import die_with_parent, free_ports
from eco2.platform.tracing import otlp_configured
from eco2.settings import Settings

console = Console(stderr=True)
LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """Ports of every process; the gateway is the only one a client should use."""

    gateway: int
    envoy_admin: int
    authz_grpc: int
    authz_http: int
    domains: dict[str, int]

    @classmethod
    def allocate(cls, gateway_port: int, domains: Sequence[str] = ()) -> SplitPlan:
        names = [d.name for d in registry.select(domains)]
        envoy_admin, authz_grpc, authz_http, *ports = free_ports(3 + len(names))
        return cls(
            gateway=gateway_port,
            envoy_admin=envoy_admin,
            authz_grpc=authz_grpc,
            authz_http=authz_http,
            domains=dict(zip(names, ports, strict=True)),
        )

    def service_urls(self) -> str:
        return ",".join(f"{name}=http://{LOOPBACK}:{port}" for name, port in self.domains.items())

    def jwks_url(self) -> str | None:
        if "auth" not in self.domains:
            return None  # authz then verifies with the local keys, like the domains
        return f"http://{LOOPBACK}:{self.domains['auth']}{registry.API}/auth/.well-known/jwks.json"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ready_url: str

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Supervisor:
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str], ready_url: str) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and Envoy binary)
                argv,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGTERM),  # dies with us, even on SIGKILL
            )
        self.children.append(Child(name, process, log, ready_url))

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as http:
            for child in self.children:
                while not _answers(http, child.ready_url):
                    self._check_alive(child)
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{child.name} not ready in time:\n{child.tail()}")
                    time.sleep(0.1)

    def watch(self) -> None:
        """Block until a child exits (an error) or a signal interrupts us."""
        while True:
            for child in self.children:
                self._check_alive(child)
            time.sleep(0.5)

    def stop_all(self) -> None:
        for child in reversed(self.children):  # gateway first, so no request hits a dead domain
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    @staticmethod
    def _check_alive(child: Child) -> None:
        code = child.process.poll()
        if code is not None:
            raise RuntimeError(f"{child.name} exited with status {code}:\n{child.tail()}")


def _answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def child_env(plan: SplitPlan, gateway_origin: str) -> dict[str, str]:
    env = dict(os.environ)  # carries the URLs resolved_environment() exported
    env.update(ECO2_AUTH_TRUST_GATEWAY="true", ECO2_SERVICE_URLS=plan.service_urls())
    env.setdefault("ECO2_INTERNAL_TOKEN", secrets.token_urlsafe(32))  # one for all children
    env.setdefault("ECO2_PUBLIC_BASE_URL", gateway_origin)
    jwks_url = plan.jwks_url()
    if jwks_url:
        env.setdefault("ECO2_AUTHZ_JWKS_URL", jwks_url)
    return env


def start_topology(sup: Supervisor, plan: SplitPlan, env: Mapping[str, str]) -> None:
    eco2 = [sys.executable, "-m", "eco2"]
    for name, port in plan.domains.items():
        argv = [*eco2, "serve", "--domain", name, "--host", LOOPBACK, "--port", str(port)]
        sup.spawn(name, argv, env, f"http://{LOOPBACK}:{port}/ready")
    authz = ["authz", "--host", LOOPBACK, "--grpc-port", str(plan.authz_grpc)]
    sup.spawn(
        "authz",
        [*eco2, *authz, "--http-port", str(plan.authz_http)],
        env,
        f"http://{LOOPBACK}:{plan.authz_http}/ready",
    )
    config = sup.log_dir / "envoy.json"
    config.write_text(json.dumps(envoy_config(plan, traces=otlp_collector(env)), indent=1))
    envoy = [str(envoy_binary()), "-c", str(config), "--disable-hot-restart"]
    sup.spawn(
        "envoy",
        [*envoy, "--log-level", "warn", "--concurrency", "2"],
        env,
        f"http://{LOOPBACK}:{plan.envoy_admin}/ready",
    )
    sup.wait_ready()


def envoy_config(
    plan: SplitPlan, listen_host: str = LOOPBACK, traces: Upstream | None = None
) -> dict[str, object]:
    return bootstrap(
        listen=Upstream(listen_host, plan.gateway),
        admin=Upstream(LOOPBACK, plan.envoy_admin),
        authz=Upstream(LOOPBACK, plan.authz_grpc),
        domains={name: Upstream(LOOPBACK, port) for name, port in plan.domains.items()},
        traces=traces,
    )


def otlp_collector(env: Mapping[str, str]) -> Upstream | None:
    """Where the gateway sends its spans: the processes' OTLP/HTTP collector, when tracing is
    on and the collector is a plain ``http://host:port`` (what Envoy's exporter can reach)."""
    if not otlp_configured(env) or env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") != (
        "http/protobuf"
    ):
        return None
    url = urlsplit(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
    if url.scheme != "http" or not url.hostname or url.path.strip("/"):
        return None
    return Upstream(url.hostname, url.port or 80)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` (children, embedded servers) runs."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_split(settings: Settings, gateway_port: int, domains: Sequence[str] = ()) -> None:
    """Start everything, print where it is, supervise until Ctrl-C/SIGTERM; stop it all."""
    from eco2.keys import local_key_files

    if not settings.auth_signing_keys:  # create the shared key once, not racing in children
        local_key_files(settings, create=True)
    plan = SplitPlan.allocate(gateway_port, domains)
    origin = f"http://localhost:{gateway_port}"
    sup = Supervisor(settings.data_dir.resolve() / "split")
    sup.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        start_topology(sup, plan, child_env(plan, origin))
        _print_summary(plan, origin, sup.log_dir)
        sup.watch()
    except KeyboardInterrupt:
        console.print("[yellow]stopping the split topology[/]")
    finally:
        sup.stop_all()


def _print_summary(plan: SplitPlan, origin: str, log_dir: Path) -> None:
    domains = ", ".join(f"{name}:{port}" for name, port in plan.domains.items())
    console.print(f"[bold green]Eco² split[/] gateway (Envoy + ext_authz) at {origin}")
    console.print(f"  domains {domains} · authz gRPC :{plan.authz_grpc} HTTP :{plan.authz_http}")
    console.print(f"  Envoy admin :{plan.envoy_admin} · logs in {log_dir}")
