"""Scan under load: one ``eco2 serve`` process, a fake OpenAI-compatible model, 1,000 scans.

    python bench/bench_scan.py [--concurrency 1000] [--delay 3.0] [--sequential 300]

1. A fake Responses API server (raw asyncio, this file with ``--fake-model``) answers every
   ``POST /v1/responses`` after ``--delay`` seconds with a valid structured output.
2. ``eco2 serve`` (embedded PostgreSQL + Valkey, vision ``openai``, answers ``template``): its
   Python process alone on CPU 0. Its embedded PostgreSQL and Valkey (in a cluster: other
   machines), the fake model and this load generator share CPU 1.
3. ``--rounds`` bursts of ``--concurrency`` simultaneous ``POST /api/v1/scan/classify``
   (signed-in users, a clean PET bottle: every scan stores a row and grants a reward): success
   rate, p50/p99 latency, the overhead beyond the model's delay and the CPU each part used.
   The first burst opens the model client's connections; later ones find them pooled.
4. The model switched to instant: ``--sequential`` scans one after another give the per-scan
   overhead of the whole pipeline (auth, model call, answer, reward, storage).

``--jobs`` measures scan jobs instead: each scan is ``POST /api/v1/scan`` (202) and then its SSE
stream read to the ``done`` event; latency is from the submit to ``done``, and a scan counts as
complete when ``done`` carries a completed result with an answer. The job queue's share is shown
apart: from the ``queued`` event to the job's first step (``vision`` started), by their ``ts``;
the engine's own CPU per job is measured in isolation by ``bench_job_engines.py``.

The load generator speaks raw HTTP/1.1 over uvloop streams so its own cost stays out of the
measured latency. ``--workers 2`` runs two server processes over both CPUs instead (shared with
everything else). The scans of a burst advance together on the event loop, so the last one
ends after the model's delay plus the CPU the whole burst needs; ``bench_model_client.py``
measures the model client's share of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import uvloop

from _support import (
    StreamRefused,
    cpu_reference,
    cpu_seconds,
    embedded_stores,
    free_port,
    move_to,
    percentile,
    read_http_message,
    sse_events,
    stop,
)

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPU, CLIENT_CPU = {0}, {1}
IMAGE_HOST = "cdn.bench.test"
CLASSIFY, JOBS = "/api/v1/scan/classify", "/api/v1/scan"
USERS = 50


# --- fake model (child process) -------------------------------------------------------------


def model_reply() -> bytes:
    output = {
        "item_name": "생수 페트병",
        "major_category": "재활용폐기물",
        "middle_category": "무색페트병",
        "minor_category": "먹는샘물 페트병",
        "conditions": [],
        "confidence": 0.95,
    }
    body = {
        "id": "resp_bench",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": "bench",
        "output": [
            {
                "id": "msg_bench",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": json.dumps(output), "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    payload = json.dumps(body).encode()
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def serve_fake_model(port: int, delay: float) -> None:
    reply = model_reply()
    state = {"delay": delay}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, _ = await read_http_message(reader)
                if head.startswith(b"POST /control/delay/"):
                    state["delay"] = float(head.split(b" ")[1].rsplit(b"/", 1)[1])
                    writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                else:
                    await asyncio.sleep(state["delay"])
                    writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


# --- processes ------------------------------------------------------------------------------


def spawn_model(delay: float) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--fake-model", "--port", str(port), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, CLIENT_CPU),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    return process, port


def spawn_server(
    data_dir: Path, model_port: int, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "ECO2_ENV": "local",
        "ECO2_DATA_DIR": str(data_dir),
        "ECO2_VISION_PROVIDER": "openai",
        "ECO2_ANSWER_PROVIDER": "template",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "ECO2_IMAGE_ALLOWED_HOSTS": IMAGE_HOST,
        "ECO2_LOG_LEVEL": "WARNING",
        "ECO2_WASTE_INDEX_DIR": str(Path(tempfile.gettempdir()) / "eco2-waste-index"),
        # A bench user sends far more than a person would: the per-user limits stay out of it.
        "ECO2_SCAN_RATE_LIMIT": "1000000",
        "ECO2_CHAT_RATE_LIMIT": "1000000",
        "ECO2_STREAM_MAX_PER_USER": "1000",
    }
    env.pop("ECO2_DATABASE_URL", None)
    env.pop("ECO2_REDIS_URL", None)
    eco2 = shutil.which("eco2", path=str(Path(sys.executable).parent)) or "eco2"
    cpus = SERVER_CPU if workers == 1 else SERVER_CPU | CLIENT_CPU
    process = subprocess.Popen(
        [eco2, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
        preexec_fn=lambda: (os.setpgrp(), os.sched_setaffinity(0, cpus)),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("eco2 serve exited during start-up")
        time.sleep(0.5)
    raise RuntimeError("eco2 serve did not become ready")


# --- load generator -------------------------------------------------------------------------


@dataclass
class Result:
    ok: bool
    seconds: float
    detail: str = ""
    queue_wait: float | None = None  # job mode: the queued event → the job's first step


def sign_in(base: str, count: int) -> list[str]:
    cookies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(count):
            response = client.post("/api/v1/auth/dev/login", json={"nickname": f"벤치{n}"})
            response.raise_for_status()
            cookies.append(f"s_access={response.cookies['s_access']}")
    return cookies


def request_bytes(host: str, cookie: str, path: str = CLASSIFY) -> bytes:
    body = json.dumps({"image_url": f"https://{IMAGE_HOST}/scan/bench.png"}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\n"
        f"content-type: application/json\r\ncookie: {cookie}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


async def post(host: str, port: int, payload: bytes) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        head, body = await read_http_message(reader)
    finally:
        writer.close()
    return head.split(b" ", 2)[1].decode(), body


def scanned(scan: dict[str, Any]) -> bool:
    return scan.get("status") == "completed" and scan.get("pipeline_result") is not None


async def one_scan(host: str, port: int, cookie: str, limit_s: float) -> Result:
    """``POST /scan/classify``: the answer in the response."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_s):
            status, body = await post(host, port, request_bytes(host, cookie))
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        return Result(False, time.perf_counter() - started, type(exc).__name__)
    elapsed = time.perf_counter() - started
    if status != "200":
        return Result(False, elapsed, f"HTTP {status} {body[:120]!r}")
    try:
        scan = json.loads(body)
    except ValueError:  # no content-length, or not JSON
        return Result(False, elapsed, f"unreadable body {body[:120]!r}")
    good = scanned(scan)
    return Result(good, elapsed, "" if good else str(scan.get("error")))


async def one_job(host: str, port: int, cookie: str, limit_s: float) -> Result:
    """``POST /scan`` then its SSE stream to ``done``; ok when the scan's result is an answer."""
    started = time.perf_counter()
    stamps: dict[str, float] = {}

    def result(ok: bool, detail: str = "") -> Result:
        wait = stamps["first"] - stamps["queued"] if len(stamps) == 2 else None
        return Result(ok, time.perf_counter() - started, detail, wait)

    try:
        async with asyncio.timeout(limit_s):
            status, body = await post(host, port, request_bytes(host, cookie, JOBS))
            if status != "202":
                return result(False, f"POST {status} {body[:120]!r}")
            stream_url = json.loads(body)["stream_url"]
            async for name, data in sse_events(host, port, stream_url, cookie):
                if name in (b"queued", b"vision") and len(stamps) < 2:  # the engine's share
                    stamps["queued" if name == b"queued" else "first"] = json.loads(data)["ts"]
                if name == b"done":
                    done = json.loads(data)
                    ok = done.get("status") == "completed" and scanned(done.get("result") or {})
                    return result(ok, "" if ok else str((done.get("result") or {}).get("error")))
            return result(False, "stream ended without done")
    except StreamRefused as exc:
        return result(False, str(exc))
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
        return result(False, type(exc).__name__)


Scan = Callable[[str, int, str, float], Awaitable[Result]]


async def burst(base: str, cookies: list[str], n: int, limit_s: float, scan: Scan) -> list[Result]:
    host, port = base.removeprefix("http://").split(":")
    return await asyncio.gather(
        *(scan(host, int(port), cookies[i % len(cookies)], limit_s) for i in range(n))
    )


async def sequential(base: str, cookies: list[str], n: int, scan: Scan) -> list[Result]:
    host, port = base.removeprefix("http://").split(":")
    return [await scan(host, int(port), cookies[i % len(cookies)], 30) for i in range(n)]


def report(name: str, results: list[Result], delay: float) -> None:
    ok = [r for r in results if r.ok]
    times = [r.seconds for r in results]
    failures = sorted({r.detail for r in results if not r.ok})
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    print(
        f"{name}: {len(ok)}/{len(results)} ok ({100 * len(ok) / len(results):.1f} %), "
        f"p50 {p50:.3f} s, p99 {p99:.3f} s, max {max(times):.3f} s, "
        f"overhead beyond the model: p50 {1000 * (p50 - delay):.0f} ms, "
        f"p99 {1000 * (p99 - delay):.0f} ms" + (f"; failures: {failures[:5]}" if failures else "")
    )


async def set_delay(model_port: int, delay: float) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(f"http://127.0.0.1:{model_port}/control/delay/{delay}")


def run(
    concurrency: int, delay: float, sequential_n: int, workers: int, rounds: int, jobs: bool
) -> None:
    scan, what = (one_job, "POST /scan + SSE") if jobs else (one_scan, "POST /scan/classify")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit
    os.sched_setaffinity(0, CLIENT_CPU)
    data_dir = Path(tempfile.mkdtemp(prefix="eco2-bench-scan-"))
    model, model_port = spawn_model(delay)
    server = None
    try:
        server, base = spawn_server(data_dir, model_port, workers)
        stores = embedded_stores(data_dir)
        if workers == 1:
            move_to(stores, CLIENT_CPU)  # new PostgreSQL backends inherit the postmaster's
        cookies = sign_in(base, USERS)
        asyncio.run(set_delay(model_port, 0.0))
        asyncio.run(burst(base, cookies, 50, 30, scan))  # warm connections and caches
        asyncio.run(set_delay(model_port, delay))
        where = "1 process, CPU 0" if workers == 1 else f"{workers} workers, both CPUs"
        print(f"eco2 serve ({where}) · {what} · fake model delay {delay} s · {USERS} users")
        parts = {
            "eco2 serve": lambda: cpu_seconds(server.pid) - sum(map(cpu_seconds, stores)),
            "PostgreSQL + Valkey": lambda: sum(map(cpu_seconds, embedded_stores(data_dir))),
            "fake model": lambda: cpu_seconds(model.pid),
            "load generator": time.process_time,
        }
        p99s = []
        for n in range(1, rounds + 1):
            before = {name: read() for name, read in parts.items()}
            results = uvloop.run(burst(base, cookies, concurrency, delay + 60, scan))
            used = {name: read() - before[name] for name, read in parts.items()}
            pool = "cold model connection pool" if n == 1 else "warm pool"
            report(f"round {n} ({pool}): {concurrency} concurrent scans", results, delay)
            waits = [r.queue_wait for r in results if r.queue_wait is not None]
            if waits:
                print(
                    f"  job queue: queued → started p50 {1000 * percentile(waits, 0.5):.0f} ms, "
                    f"p99 {1000 * percentile(waits, 0.99):.0f} ms ({len(waits)} jobs)"
                )
            print(
                "  CPU: "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in used.items())
                + f" ({1000 * used['eco2 serve'] / concurrency:.2f} ms of eco2 serve per scan)"
            )
            p99s.append(percentile([r.seconds for r in results], 0.99))
        print(
            f"p99 over {rounds} rounds: median {statistics.median(p99s):.3f} s, "
            f"best {min(p99s):.3f} s, worst {max(p99s):.3f} s; "
            f"machine load average {os.getloadavg()[0]:.1f}; {cpu_reference()}"
        )
        if sequential_n:
            asyncio.run(set_delay(model_port, 0.0))
            instant = asyncio.run(sequential(base, cookies, sequential_n, scan))
            report(f"{sequential_n} sequential scans, instant model", instant, 0.0)
            mean = statistics.mean(r.seconds for r in instant)
            print(f"per-scan overhead (instant model): mean {1000 * mean:.1f} ms")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the children's shutdown is ours to wait for
        if server is not None:
            stop(server)
        stop(model, signal.SIGTERM)
        if os.environ.get("KEEP"):
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@click.command()
@click.option("--concurrency", default=1000, show_default=True)
@click.option("--delay", default=3.0, show_default=True, help="Fake model latency (s).")
@click.option("--sequential", "sequential_n", default=300, show_default=True)
@click.option("--rounds", default=3, show_default=True, help="Bursts against the same server.")
@click.option(
    "--workers", default=1, show_default=True, help="eco2 serve workers (>1: not pinned)."
)
@click.option(
    "--jobs", is_flag=True, help="Scan jobs: POST /api/v1/scan + its SSE stream to `done`."
)
@click.option("--fake-model", is_flag=True, hidden=True)
@click.option("--port", default=0, hidden=True)
def main(
    concurrency: int,
    delay: float,
    sequential_n: int,
    rounds: int,
    workers: int,
    jobs: bool,
    fake_model: bool,
    port: int,
) -> None:
    if fake_model:
        asyncio.run(serve_fake_model(port, delay))
        return
    run(concurrency, delay, sequential_n, workers, rounds, jobs)


if __name__ == "__main__":
    main()
