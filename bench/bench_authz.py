"""ext_authz throughput and latency: the real ``Check`` against a no-op servicer, same harness.

    python bench/bench_authz.py [--duration 5] [--concurrency 4 --concurrency 32] [--envoy]

The authz server (real or no-op) runs in its own process, pinned to CPU 0; this process is
the bounded ``grpc.aio`` load generator (``concurrency`` requests in flight), pinned to CPU 1.
Scenarios: valid Bearer tokens, 10 % revoked tokens, cookie tokens. With ``--envoy`` it also
starts ``eco2 dev split`` and runs ``wrk`` against a protected route through Envoy.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import grpc
import httpx
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from google.rpc import code_pb2, status_pb2
from redis.asyncio import Redis

from eco2.platform.embedded import die_with_parent, free_port, start_valkey
from eco2.platform.security import KeyRing, Revocations, TokenCodec, generate_private_key
from eco2.settings import Settings

TOKENS = 500
SERVER_CPU, CLIENT_CPU = {0}, {1}
_HTTP_PORTS: dict[int, int] = {}  # gRPC port -> metrics port of the real server


# --- servers (child processes) --------------------------------------------------------------


class NoopServicer(pb_grpc.AuthorizationServicer):  # type: ignore[misc]
    RESPONSE = pb.CheckResponse(status=status_pb2.Status(code=code_pb2.OK))

    async def Check(self, request: pb.CheckRequest, context: object) -> pb.CheckResponse:  # noqa: N802
        return self.RESPONSE


async def serve(kind: str, port: int, redis_url: str, pem: str) -> None:
    if kind == "noop":
        server = grpc.aio.server()
        pb_grpc.add_AuthorizationServicer_to_server(NoopServicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
    else:
        from eco2.authz.server import AuthzService

        settings = Settings(env="local", redis_url=redis_url, auth_signing_keys=pem)
        service = AuthzService(settings)
        await service.start("127.0.0.1", port, 0)
        assert await service.revocations.wait_synced(10)
        print(f"HTTP {service.http_port}", flush=True)
    print("READY", flush=True)
    await asyncio.Event().wait()


def spawn_server(kind: str, redis_url: str, pem_file: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    args = ["--serve", kind, "--port", str(port), "--redis", redis_url, "--pem-file", str(pem_file)]
    process = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(signal.SIGTERM),  # dies with the load generator
    )
    assert process.stdout is not None
    for line in process.stdout:  # skip start-up logs
        if line.startswith("HTTP "):
            _HTTP_PORTS[port] = int(line.split()[1])
        if line.strip() == "READY":
            return process, port
    raise RuntimeError(f"{kind} server did not start")


# --- load generator -------------------------------------------------------------------------


@dataclass
class Result:
    checks_per_second: float
    p50: float
    p95: float
    p99: float
    denied: float


def check_request(headers: dict[str, str]) -> pb.CheckRequest:
    request = pb.CheckRequest()
    request.attributes.request.http.method = "GET"
    request.attributes.request.http.path = "/api/v1/user/me"
    request.attributes.request.http.headers.update(headers)
    return request


async def drive(
    port: int, requests: list[pb.CheckRequest], concurrency: int, seconds: float
) -> Result:
    latencies: list[float] = []
    denied = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.AuthorizationStub(channel)
        for request in requests:  # warm-up: connection, verified-token cache
            await stub.Check(request)

        async def worker(offset: int) -> None:
            nonlocal denied
            index = offset
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                reply = await stub.Check(requests[index % len(requests)])
                latencies.append(time.perf_counter() - started)
                denied += reply.status.code != code_pb2.OK
                index += concurrency

        began = time.perf_counter()
        stop_at = began + seconds
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return Result(
        len(latencies) / elapsed, pct(0.50), pct(0.95), pct(0.99), denied / len(latencies)
    )


async def scenarios(redis_url: str, ring: KeyRing) -> dict[str, list[pb.CheckRequest]]:
    defaults = Settings(env="local")
    codec = TokenCodec(
        ring,
        issuer=defaults.auth_issuer,
        audience=defaults.auth_audience,
        ttl={"access": 3600, "refresh": 3600},
    )
    tokens = [
        codec.issue("access", user_id=f"u{i}", provider="kakao", family_id=f"f{i}")
        for i in range(TOKENS)
    ]
    redis = Redis.from_url(redis_url)
    for token in tokens[::10]:  # 10 % revoked, spread evenly over the request mix
        await Revocations(redis).revoke_token(token.jti, token.expires_at)
    await redis.aclose()
    bearer = [check_request({"authorization": f"Bearer {t.value}"}) for t in tokens]
    valid = [r for i, r in enumerate(bearer) if i % 10]
    cookie = [
        check_request({"cookie": f"theme=dark; s_access={t.value}; s_refresh=x"})
        for i, t in enumerate(tokens)
        if i % 10
    ]
    return {"valid": valid, "10% revoked": bearer, "cookie": cookie}


def _median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.checks_per_second)[len(results) // 2]


def print_row(target: str, scenario: str, c: int, r: Result, base: Result | None) -> None:
    ratio = f"{r.checks_per_second / base.checks_per_second:6.0%}" if base else "     -"
    print(
        f"{target:6} {scenario:12} c={c:<3} {r.checks_per_second:9,.0f}/s  "
        f"p50 {r.p50:5.2f}  p95 {r.p95:5.2f}  p99 {r.p99:5.2f} ms  "
        f"denied {r.denied:4.0%}  vs no-op {ratio}",
        flush=True,
    )


async def grpc_bench(
    redis_url: str, pem_file: Path, ring: KeyRing, levels: list[int], seconds: float, rounds: int
) -> None:
    requests = await scenarios(redis_url, ring)
    noop, noop_port = spawn_server("noop", redis_url, pem_file)
    real, real_port = spawn_server("real", redis_url, pem_file)
    try:
        for c in levels:
            for name, batch in requests.items():
                # Same requests for both; rounds alternate so a noisy neighbour hurts both alike.
                base, real_runs = [], []
                for _ in range(rounds):
                    base.append(await drive(noop_port, batch, c, seconds))
                    real_runs.append(await drive(real_port, batch, c, seconds))
                print_row("no-op", name, c, _median(base), None)
                print_row("authz", name, c, _median(real_runs), _median(base))
        print(f"# server-side Check time (histogram): {await server_side(real_port)}")
    finally:
        for process in (noop, real):
            process.terminate()
            process.wait()


async def server_side(grpc_port: int) -> str:
    """p50/p99 bucket bounds of eco2_authz_check_duration_seconds from the real server."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{_HTTP_PORTS[grpc_port]}/metrics")).text
    buckets = [
        (float(m.group(1)), float(m.group(2)))
        for m in re.finditer(r'check_duration_seconds_bucket\{le="([^"]+)"\} (\S+)', text)
    ]
    total = buckets[-1][1]

    def bound(q: float) -> str:
        le = next(le for le, n in buckets if n >= q * total)
        return f"<= {le * 1000:g} ms"

    return f"{total:,.0f} checks, p50 {bound(0.5)}, p99 {bound(0.99)}"


# --- through Envoy --------------------------------------------------------------------------


def envoy_bench(levels: list[int], seconds: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="eco2-bench-split-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env |= {"ECO2_DATA_DIR": str(data_dir), "ECO2_ENV": "local"}
    domains = ["--domain", "auth", "--domain", "users", "--domain", "character"]
    split = subprocess.Popen(
        [sys.executable, "-m", "eco2", "dev", "split", "--port", str(port), *domains],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        token, user_id = _login_when_up(url)
        direct = f"http://127.0.0.1:{_users_port(data_dir)}"  # the upstream without a gateway
        runs: list[tuple[str, str, str, list[str]]] = [
            ("envoy", url, "valid cookie → /user/me", [f"Cookie: s_access={token}"]),
            ("envoy", url, "no token → 401 (authz)", []),
            ("direct", direct, "users pod, x-user-id", [f"x-user-id: {user_id}"]),
        ]
        for c in levels:
            for target, base, label, headers in runs:
                rps, p99 = _wrk(f"{base}/api/v1/user/me", headers, c, seconds)
                print(f"{target:6} {label:24} c={c:<3} {rps:9,.0f} req/s  p99 {p99}", flush=True)
    finally:
        split.send_signal(signal.SIGTERM)
        split.wait(60)


def _users_port(data_dir: Path) -> int:
    config = json.loads((data_dir / "split" / "envoy.json").read_text())
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "eco2_users")
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    return int(endpoint["address"]["socket_address"]["port_value"])


def _login_when_up(url: str) -> tuple[str, str]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                f"{url}/api/v1/auth/dev/login", json={"nickname": "벤치"}, timeout=2
            )
            if response.status_code == 200:
                return response.cookies["s_access"], response.json()["data"]["user_id"]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("eco2 dev split did not come up")


def _wrk(url: str, headers: list[str], connections: int, seconds: float) -> tuple[float, str]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    return rps, p99


def _pin(cpus: set[int]) -> None:
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, cpus)


@click.command()
@click.option("--duration", default=5.0, show_default=True)
@click.option(
    "--concurrency", "levels", multiple=True, type=int, default=(4, 32), show_default=True
)
@click.option("--rounds", default=3, show_default=True, help="Median of this many runs per row.")
@click.option("--pin/--no-pin", default=False, help="Server on CPU 0, load generator on CPU 1.")
@click.option("--envoy/--no-envoy", default=False, help="Also measure through Envoy with wrk.")
@click.option("--serve", type=click.Choice(["real", "noop"]), hidden=True)
@click.option("--port", type=int, hidden=True)
@click.option("--redis", "redis_url", hidden=True)
@click.option("--pem-file", type=click.Path(path_type=Path), hidden=True)
def main(
    duration: float,
    levels: tuple[int, ...],
    rounds: int,
    pin: bool,
    envoy: bool,
    serve: str | None,
    port: int | None,
    redis_url: str | None,
    pem_file: Path | None,
) -> None:
    if serve:
        if os.environ.get("BENCH_PIN"):
            _pin(SERVER_CPU)
        pem_text = pem_file.read_text() if pem_file else ""
        asyncio.run(serve_child(serve, port or 0, redis_url or "", pem_text))
        return
    with tempfile.TemporaryDirectory(prefix="eco2-bench-authz-") as tmp:
        valkey = start_valkey(Path(tmp))
        try:
            key = generate_private_key()
            pem = Path(tmp) / "key.pem"
            pem.write_bytes(key.as_pem(private=True))
            pinned = "server/client pinned to CPU 0/1" if pin else "unpinned"
            print(f"# grpc.aio Check over loopback, median of {rounds} x {duration:.0f}s, {pinned}")
            if pin:
                os.environ["BENCH_PIN"] = "1"
                _pin(CLIENT_CPU)
            ring = KeyRing([key])
            asyncio.run(grpc_bench(valkey.url, pem, ring, list(levels), duration, rounds))
        finally:
            valkey.stop()
    if envoy:
        print(f"# through Envoy (eco2 dev split) with wrk -t2, {duration:.0f}s per row")
        envoy_bench(list(levels), duration)


async def serve_child(kind: str, port: int, redis_url: str, pem: str) -> None:
    await serve(kind, port, redis_url, pem)


if __name__ == "__main__":
    main()
