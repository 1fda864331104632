"""Benchmark: the request path with tracing off, on at 100 % and on at 10 %, side by side.

    python bench/bench_tracing.py [--seconds 5] [--rounds 3] [--connections 32] [--before SRC]

Three ``eco2 serve`` (every domain, embedded stores, the server on CPU 0): one without any
``OTEL_*`` variable (tracing off: nothing installed), two exporting to an OTLP/HTTP sink in this
process with ``parentbased_traceidratio`` at 1.0 and at 0.1. Requests come without trace
headers, so each server's own sampler decides. ``--before SRC`` adds a fourth, the baseline of
"off": the code in ``SRC`` (the ``src`` of a tree without tracing, e.g. a worktree of main).
Each round loads every route of every server in turn with ``wrk`` (the order rotates per
round); printed per route and mode: the median over rounds of requests/s, p50, p99, the
server's CPU per request and the ratio to "off" in the same round, plus the spans the sink
received.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _support import cpu_reference, cpu_seconds
from bench_chat import eco2_serve
from bench_user_me import ME, load_with_wrk, sign_in

CLIENT_CPU = {1}
ROUTES = (ME,)  # load_with_wrk loads this route


class Sink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports (``POST /v1/traces``) and counts their bytes."""

    received = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Sink.received += len(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def modes(endpoint: str, before: Path | None) -> dict[str, dict[str, str]]:
    traced = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    }
    baseline = {"before": {"PYTHONPATH": str(before.resolve())}} if before else {}
    return {
        **baseline,
        "off": {},
        "on 100 %": {**traced, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
        "on 10 %": {**traced, "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    }


def run(seconds: int, rounds: int, connections: int, before: Path | None) -> None:
    os.sched_setaffinity(0, CLIENT_CPU)
    print(f"load average {os.getloadavg()[0]:.1f} before the run")
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-tracing-"))
    try:
        with otlp_sink() as endpoint, contextlib.ExitStack() as stack:
            servers: dict[str, tuple[int, str, str]] = {}
            for label, env in modes(endpoint, before).items():
                data_dir = work / label.replace(" ", "").replace("%", "") / "data"
                data_dir.parent.mkdir(parents=True)
                pid, base = stack.enter_context(eco2_serve(data_dir, env))
                servers[label] = (pid, base, sign_in(base))
            for _, base, cookie in servers.values():  # warm-up: pools, caches, first requests
                load_with_wrk(base, cookie, connections, 1)
            runs = [(label, route) for label in servers for route in ROUTES]
            results: dict[tuple[str, str], list[dict[str, float]]] = {r: [] for r in runs}
            for n in range(rounds):
                for label, route in runs[n % len(runs) :] + runs[: n % len(runs)]:
                    pid, base, cookie = servers[label]
                    used = cpu_seconds(pid)
                    result = load_with_wrk(base, cookie, connections, seconds)
                    used = cpu_seconds(pid) - used
                    result["cpu_us"] = 1e6 * used / max(result["rps"] * seconds, 1)
                    results[label, route].append(result)
            report(results, seconds, rounds, connections)
            print(f"OTLP sink received {Sink.received / 1e6:.1f} MB of spans")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(
    results: dict[tuple[str, str], list[dict[str, float]]],
    seconds: int,
    rounds: int,
    connections: int,
) -> None:
    print(
        f"eco2 serve (every domain, 1 worker, CPU 0; its PostgreSQL and Valkey share the host) · "
        f"wrk -c{connections} -d{seconds}s on CPU 1 · {rounds} rounds, medians"
    )
    print(
        f"{'route':<30}{'tracing':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU µs/req':>12}{'× off':>8}{'non-2xx':>9}"
    )
    for route in ROUTES:
        off = results["off", route]
        for label in dict.fromkeys(label for label, _ in results):
            rows = results[label, route]

            def median(key: str, rows: list[dict[str, float]] = rows) -> float:
                return statistics.median(r[key] for r in rows)

            ratio = statistics.median(r["rps"] / o["rps"] for r, o in zip(rows, off, strict=True))
            print(
                f"{route:<30}{label:<10}{median('rps'):>9.0f}{median('p50_ms'):>9.2f}"
                f"{median('p99_ms'):>9.2f}{median('cpu_us'):>12.0f}{ratio:>8.2f}"
                f"{sum(r['errors'] for r in rows):>9.0f}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} after the run; {cpu_reference()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per route, mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--before", type=Path, metavar="SRC", help="baseline code's src dir")
    args = parser.parse_args()
    run(args.seconds, args.rounds, args.connections, args.before)


if __name__ == "__main__":
    main()
