"""Benchmark: ``eco2 serve`` start-up time and ``GET /api/v1/user/me`` throughput.

Starts one ``eco2 serve`` on the embedded default (PostgreSQL + Valkey under a fresh data dir),
measures spawn → ``/ready`` = 200 for a first (cold) and a second (warm) start, signs in through
the local route, then loads ``GET /api/v1/user/me`` with the session cookie from a separate
process: ``wrk`` when installed, else this script's own asyncio/httpx load generator run as a
subprocess. Prints requests/s and p50/p99 per concurrency. Always stops what it started.

    python bench/bench_user_me.py [--duration 10] [--concurrency 1,8,32,128] [--workers 1]
                                  [--tool auto|wrk|httpx] [--domain NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from eco2.platform.embedded import free_port

ME = "/api/v1/user/me"
READY_TIMEOUT = 180.0


@contextlib.contextmanager
def eco2_serve(
    data_dir: Path, port: int, workers: int, domains: list[str]
) -> Iterator[tuple[str, float]]:
    """Run ``eco2 serve``; yield (base URL, seconds from spawn to /ready = 200); stop it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env |= {"ECO2_DATA_DIR": str(data_dir), "ECO2_LOG_LEVEL": "WARNING"}
    args = [sys.executable, "-m", "eco2", "serve", "--port", str(port), "--workers", str(workers)]
    for domain in domains:
        args += ["--domain", domain]
    log = (data_dir.parent / f"serve-{port}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, wait_ready(url, process, started)
    finally:
        stop(process)
        log.close()


def wait_ready(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    with httpx.Client(timeout=2) as http:
        while time.perf_counter() - started < READY_TIMEOUT:
            if process.poll() is not None:
                raise RuntimeError(f"eco2 serve exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{url}/ready").status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {READY_TIMEOUT} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group (server, workers, embedded databases), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(30)
            return
        except subprocess.TimeoutExpired:
            continue


def sign_in(url: str) -> str:
    response = httpx.post(f"{url}/api/v1/auth/dev/login", json={"nickname": "벤치"}, timeout=10)
    response.raise_for_status()
    cookie = response.cookies["s_access"]
    me = httpx.get(f"{url}{ME}", cookies={"s_access": cookie}, timeout=10)
    assert me.status_code == 200, me.text
    return cookie


# --- load generators (each runs in its own process) -------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS_MS[unit]


def load_with_wrk(url: str, cookie: str, concurrency: int, duration: int) -> dict[str, float]:
    threads = min(concurrency, os.cpu_count() or 1)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--latency",
         "-H", f"Cookie: s_access={cookie}", f"{url}{ME}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)[1]),  # type: ignore[index]
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)[1]),  # type: ignore[index]
        "errors": float(errors[1]) if errors else 0.0,
    }


async def _httpx_load(url: str, cookie: str, concurrency: int, duration: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(cookies={"s_access": cookie}, limits=limits, timeout=30) as http:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(f"{url}{ME}")
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": float(errors),
    }


def load_with_httpx(url: str, cookie: str, concurrency: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--cookie", cookie,
         "--concurrency", str(concurrency), "--duration", str(duration)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)  # type: ignore[no-any-return]


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per concurrency")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--workers", type=int, default=1, help="eco2 serve --workers")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--domain", action="append", default=[], help="eco2 serve --domain (default: all)"
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)  # internal: be the load generator
    parser.add_argument("--cookie", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        result = asyncio.run(
            _httpx_load(args.load, args.cookie, int(args.concurrency), args.duration)
        )
        print(json.dumps(result))
        return

    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    load = load_with_wrk if tool == "wrk" else load_with_httpx
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-"))
    try:
        with eco2_serve(work / "data", free_port(), args.workers, args.domain) as (_, cold):
            print(f"first start (fresh data dir): spawn → /ready = 200 in {cold:.2f} s")
        with eco2_serve(work / "data", free_port(), args.workers, args.domain) as (url, warm):
            print(f"warm start (same data dir):   spawn → /ready = 200 in {warm:.2f} s")
            cookie = sign_in(url)
            served = ", ".join(args.domain) or "all domains"
            print(f"\nGET {ME} with a session cookie · eco2 serve ({served}, "
                  f"--workers {args.workers}) · load: {tool}, {args.duration} s each · "
                  f"{os.cpu_count()} CPUs")  # fmt: skip
            print(f"{'concurrency':>11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
            load(url, cookie, 4, 2)  # warm-up: pools, JIT-less caches, first-request paths
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                r = load(url, cookie, concurrency, args.duration)
                print(f"{concurrency:>11} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} "
                      f"{r['p99_ms']:>8.2f} {r['errors']:>8.0f}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
