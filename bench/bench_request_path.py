"""The everyday request path, side by side in one run: every route against the smallest
Litestar route served by the same process.

    python bench/bench_request_path.py [--seconds 5] [--rounds 3] [--connections 32] [--users 100]

1. ``eco2 serve`` on the embedded default (all domains, one granian worker) with this file's
   ASGI factory: the whole app, plus a bare Litestar app answering ``/bench/smallest`` (one
   ``@get`` returning a dict, none of our middleware, guard or plugins) in the same worker.
   The server process alone on CPU 0; its embedded PostgreSQL and Valkey and ``wrk`` on CPU 1.
2. ``--users`` users signed in through the local route; every route is loaded with their
   session cookies in turn, as their browsers would send them.
3. ``--rounds`` rounds; in each, ``wrk -t1 -c<connections>`` runs ``--seconds`` on every route
   in turn (the order rotates per round). Printed per route: the median over rounds of
   requests/s, p50 and p99, the server's CPU per request, and the ratio to the smallest route
   measured in the same round (the issue's yardstick: ratios are robust to the host's speed,
   which drifts while other work runs on it).
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
import time
from collections.abc import Iterator
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
    wrk,
)

SERVER_CPU, CLIENT_CPU = {0}, {1}
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


@contextlib.contextmanager
def server(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env |= {
        "ECO2_ENV": "local",
        "ECO2_DATA_DIR": str(data_dir),
        "ECO2_LOG_LEVEL": "WARNING",
        "ECO2_WASTE_INDEX_DIR": str(Path(tempfile.gettempdir()) / "eco2-waste-index"),
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), *filter(None, [env.get("PYTHONPATH")])]
        ),
    }
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
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become ready (see {log.name})")
            time.sleep(0.2)
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


def run(seconds: float, rounds: int, connections: int, users: int) -> None:
    os.sched_setaffinity(0, CLIENT_CPU)
    print(f"load average {os.getloadavg()[0]:.1f} before the run")
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-path-"))
    data_dir = work / "data"
    try:
        with server(data_dir) as (process, base):
            stores = embedded_stores(data_dir)
            move_to(stores, CLIENT_CPU)
            headers = [{"Cookie": f"s_access={cookie}"} for cookie in sign_in(base, users)]

            def load(path: str, duration: float) -> dict[str, float]:
                return wrk(
                    base + path,
                    connections=connections,
                    seconds=duration,
                    headers=headers,
                    cpus=CLIENT_CPU,
                )

            def server_cpu() -> float:
                return cpu_seconds(process.pid) - sum(map(cpu_seconds, embedded_stores(data_dir)))

            for path in ROUTES.values():  # warm-up: pools, caches, first-request paths
                load(path, 1)
            results: dict[str, list[dict[str, float]]] = {name: [] for name in ROUTES}
            names = list(ROUTES)
            for n in range(rounds):
                for name in names[n % len(names) :] + names[: n % len(names)]:
                    before = server_cpu()
                    result = load(ROUTES[name], seconds)
                    used = server_cpu() - before
                    result["cpu_us"] = 1e6 * used / max(result["rps"] * seconds, 1)
                    results[name].append(result)
                for name in names:
                    last = results[name][-1]
                    last["ratio"] = last["rps"] / results[names[0]][-1]["rps"]
            report(results, seconds, rounds, connections, users)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(
    results: dict[str, list[dict[str, float]]],
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
        f"{'route':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}"
        f"{'× smallest':>12}{'(range)':>14}{'non-2xx':>9}"
    )
    for name, runs in results.items():
        ratios = [r["ratio"] for r in runs]

        def median(key: str, rows: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in rows)

        bad = sum(r["errors"] + r["socket_errors"] for r in runs)
        print(
            f"{name:<32}{median('rps'):>9.0f}{median('p50_ms'):>9.2f}{median('p99_ms'):>9.2f}"
            f"{median('cpu_us'):>12.0f}{statistics.median(ratios):>12.2f}"
            f"{f'{min(ratios):.2f}–{max(ratios):.2f}':>14}{bad:>9.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} after the run; {cpu_reference()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per route and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=100, help="signed-in users, in turn")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    run(args.seconds, args.rounds, args.connections, args.users)


if __name__ == "__main__":
    main()
