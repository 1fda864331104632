"""The everyday request path, side by side in one run: every route against the smallest
Litestar route served by the same process; optionally the old code beside the new.

    python bench/bench_request_path.py [--seconds 5] [--rounds 3] [--connections 32] [--users 100]
                                       [--before SRC] [--tracing]

1. ``eco2 serve`` on the embedded default (all domains, one granian worker) with this file's
   ASGI factory: the whole app, plus a bare Litestar app answering ``/bench/smallest`` (one
   ``@get`` returning a dict, none of our middleware or plugins) in the same worker.
   The server process alone on CPU 0; its embedded PostgreSQL and Valkey and ``wrk`` on CPU 1.
   With ``--before SRC`` a second server runs the code in ``SRC`` (a ``src`` directory) the
   same way, with its own data dir; the two are loaded in turn, never at once. With
   ``--tracing`` two more run this code with OpenTelemetry on (``OTEL_EXPORTER_OTLP_ENDPOINT``:
   an OTLP/HTTP sink in this process), sampling 100 % and 10 % of the traces they start
   (``parentbased_traceidratio``; the requests carry no trace headers); "after" is tracing off.
2. ``--users`` users signed in through the local route; every route is loaded with their
   session cookies in turn, as their browsers would send them.
3. ``--rounds`` rounds; in each, ``wrk -t1 -c<connections>`` runs ``--seconds`` on every route
   of every server in turn (the order rotates per round). Printed per route: the median over
   rounds of requests/s, p50 and p99, the server's CPU per request, and the ratio to the
   smallest route of the same server in the same round (the issue's yardstick: ratios are
   robust to the host's speed, which drifts while other work runs on it).

Tracing off, on at 100 % and at 10 %, beside the code before tracing (issue 17)::

    git worktree add --detach /tmp/base17 769f14e  # main before tracing
    flock /tmp/eco2-bench.lock .venv/bin/python bench/bench_request_path.py --tracing \
        --before /tmp/base17/src

Before/after for issue 15 (main at 78ac29d; the bench needs ``eco2.cli.granian_server``, a
refactor this branch made, so the old tree gets this branch's ``cli.py``)::

    git worktree add --detach /tmp/base15 78ac29d
    git -C /tmp/base15 checkout c396717 -- src/eco2/cli.py
    flock /tmp/eco2-bench.lock .venv/bin/python bench/bench_request_path.py --before /tmp/base15/src

The second pass (main at 27f767e; that code still imports advanced-alchemy, which is no longer
a dependency, so it gets its own copy beside its source)::

    git worktree add --detach /tmp/b15b 27f767e
    .venv/bin/uv pip install --no-deps --target /tmp/b15b/src advanced-alchemy==1.12.0
    flock /tmp/eco2-bench.lock .venv/bin/python bench/bench_request_path.py --before /tmp/b15b/src
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from _support import (
    cpu_reference,
    cpu_seconds,
    embedded_stores,
    free_port,
    move_to,
    stop,
    wait_ready,
    wrk,
)

SERVER_CPU, CLIENT_CPU = {0}, {1}
TRACE_SAMPLER = "parentbased_traceidratio"
TRACE_RATIOS = {"traced 100%": "1.0", "traced 10%": "0.1"}
SMALLEST = "/bench/smallest"
ROUTES = {
    "smallest Litestar route": SMALLEST,
    "GET /health": "/health",
    "GET /api/v1/info/categories": "/api/v1/info/categories",
    "GET /api/v1/user/me": "/api/v1/user/me",
    "GET /api/v1/character/catalog": "/api/v1/character/catalog",
    "GET /api/v1/user/me/characters": "/api/v1/user/me/characters",
}


# --- the server (its own process) -------------------------------------------------------------


def asgi() -> Any:
    """``eco2.app:asgi`` (every domain) with a bare Litestar app beside it for ``SMALLEST``."""
    from litestar import Litestar, get
    from litestar.types import Receive, Scope, Send

    from eco2.app import asgi as eco2_asgi

    @get(SMALLEST, sync_to_thread=False)
    def smallest() -> dict[str, str]:
        return {"status": "ok"}

    bare = Litestar([smallest])
    app = eco2_asgi()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SMALLEST:
            await bare(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


def serve(port: int) -> None:
    """``eco2 serve`` with this file's factory: the same environment and server settings."""
    from eco2.cli import granian_server, resolved_environment

    with resolved_environment():
        os.environ["ECO2_DOMAINS"] = ""
        granian_server("127.0.0.1", port, 1, target=f"{Path(__file__).stem}:asgi").serve()


@dataclass(frozen=True)
class Variant:
    """What a server runs: the code in ``src`` (default: installed), with ``env`` added."""

    src: Path | None = None
    env: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def server(data_dir: Path, variant: Variant) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A server on this file's factory, running ``variant``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECO2_", "OTEL_"))}
    src = variant.src
    paths = [str(Path(__file__).parent), *([str(src)] if src else []), env.get("PYTHONPATH")]
    env |= {
        "ECO2_ENV": "local",
        "ECO2_DATA_DIR": str(data_dir),
        "ECO2_LOG_LEVEL": "WARNING",
        "ECO2_WASTE_INDEX_DIR": str(data_dir.parent / "waste-index"),
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        **variant.env,
    }
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: (os.setpgrp(), os.sched_setaffinity(0, SERVER_CPU)),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log.name)
        yield process, base
    finally:
        stop(process, signal.SIGINT)
        log.close()


# --- the load ----------------------------------------------------------------------------------


def sign_in(base: str, users: int) -> list[str]:
    """Session cookies of ``users`` new users, each checked on every route."""
    cookies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(users):
            response = client.post("/api/v1/auth/dev/login", json={"nickname": f"벤치{n}"})
            response.raise_for_status()
            cookie = response.cookies["s_access"]
            client.cookies.clear()
            for path in ROUTES.values():
                answer = client.get(path, cookies={"s_access": cookie})
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
            cookies.append(cookie)
    return cookies


class Side:
    """One server under test: its address, its users' cookies, its CPU use."""

    def __init__(
        self, process: subprocess.Popen[bytes], base: str, data_dir: Path, users: int
    ) -> None:
        self.process, self.base, self.data_dir = process, base, data_dir
        move_to(embedded_stores(data_dir), CLIENT_CPU)
        self.headers = [{"Cookie": f"s_access={c}"} for c in sign_in(base, users)]

    def load(self, path: str, seconds: float, connections: int) -> dict[str, float]:
        return wrk(
            self.base + path,
            connections=connections,
            seconds=seconds,
            headers=self.headers,
            cpus=CLIENT_CPU,
        )

    def cpu(self) -> float:
        stores = embedded_stores(self.data_dir)
        return cpu_seconds(self.process.pid) - sum(map(cpu_seconds, stores))


class OTLPSink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports (``POST /v1/traces``), counting their bytes."""

    received = 0

    def do_POST(self) -> None:
        OTLPSink.received += len(self.rfile.read(int(self.headers.get("content-length", 0))))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), OTLPSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{sink.server_address[1]}"
    finally:
        sink.shutdown()


def variants(before: Path | None, traces: str | None) -> dict[str, Variant]:
    """The servers of this run by label: the old code, this code, this code traced."""
    found = {"before": Variant(src=before)} if before else {}
    found["after"] = Variant()
    if traces:
        traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": traces, "OTEL_TRACES_SAMPLER": TRACE_SAMPLER}
        for label, ratio in TRACE_RATIOS.items():
            found[label] = Variant(env={**traced, "OTEL_TRACES_SAMPLER_ARG": ratio})
    return found


def run(
    seconds: float, rounds: int, connections: int, users: int, before: Path | None, tracing: bool
) -> None:
    os.sched_setaffinity(0, CLIENT_CPU)
    print(f"load average {os.getloadavg()[0]:.1f} before the run")
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-path-"))
    try:
        with contextlib.ExitStack() as stack:
            traces = stack.enter_context(otlp_sink()) if tracing else None
            sides = {}
            for label, variant in variants(before, traces).items():
                data_dir = work / label.replace(" ", "-").replace("%", "") / "data"
                process, base = stack.enter_context(server(data_dir, variant))
                sides[label] = Side(process, base, data_dir, users)
            for side in sides.values():  # warm-up: pools, caches, first-request paths
                for path in ROUTES.values():
                    side.load(path, 1, connections)
            runs = [(label, name) for label in sides for name in ROUTES]
            results: dict[tuple[str, str], list[dict[str, float]]] = {run: [] for run in runs}
            for n in range(rounds):
                for label, name in runs[n % len(runs) :] + runs[: n % len(runs)]:
                    side = sides[label]
                    used = side.cpu()
                    result = side.load(ROUTES[name], seconds, connections)
                    used = side.cpu() - used
                    result["cpu_us"] = 1e6 * used / max(result["rps"] * seconds, 1)
                    results[label, name].append(result)
                for label, name in runs:
                    smallest = results[label, next(iter(ROUTES))][-1]["rps"]
                    results[label, name][-1]["ratio"] = results[label, name][-1]["rps"] / smallest
            report(results, seconds, rounds, connections, users)
            if tracing:
                print(f"the traced servers exported {OTLPSink.received / 1e6:.1f} MB of spans")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(
    results: dict[tuple[str, str], list[dict[str, float]]],
    seconds: float,
    rounds: int,
    connections: int,
    users: int,
) -> None:
    print(
        f"eco2 serve (every domain, 1 granian worker on CPU {min(SERVER_CPU)}; PostgreSQL, "
        f"Valkey and wrk on CPU {min(CLIENT_CPU)}) · wrk -t1 -c{connections} -d{seconds:g}s · "
        f"{users} signed-in users in turn · {rounds} rounds, medians"
    )
    print(
        f"{'code':<12}{'route':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}"
        f"{'× smallest':>12}{'(range)':>14}{'non-2xx':>9}"
    )
    for (label, name), runs in sorted(
        results.items(), key=lambda item: list(ROUTES).index(item[0][1])
    ):
        ratios = [r["ratio"] for r in runs]

        def median(key: str, rows: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in rows)

        bad = sum(r["errors"] + r["socket_errors"] for r in runs)
        print(
            f"{label:<12}{name:<32}{median('rps'):>9.0f}{median('p50_ms'):>9.2f}"
            f"{median('p99_ms'):>9.2f}{median('cpu_us'):>12.0f}{statistics.median(ratios):>12.2f}"
            f"{f'{min(ratios):.2f}–{max(ratios):.2f}':>14}{bad:>9.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} after the run; {cpu_reference()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per route and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=100, help="signed-in users, in turn")
    parser.add_argument("--before", type=Path, metavar="SRC", help="the old code's src dir")
    parser.add_argument(
        "--tracing", action="store_true", help="also this code traced at 100 %% and 10 %%"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    run(args.seconds, args.rounds, args.connections, args.users, args.before, args.tracing)


if __name__ == "__main__":
    main()
