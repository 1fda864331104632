"""Chat under load: streamed answers over SSE from one ``eco2 serve`` process.

    python bench/bench_chat.py [--sequential 50] [--concurrency 500] [--stream-seconds 2.0]
                               [--provider offline --provider openai] [--before SRC]

1. Offline provider (the embedded default): ``--sequential`` questions one after another,
   each ``POST /api/v1/chat/{id}/messages`` then ``GET /api/v1/chat/{job_id}/events``; time to
   the first ``token`` event and to ``done`` (both from the POST), p50/p95. Then
   ``--concurrency`` simultaneous messages and SSE streams, as below.
2. ``ECO2_CHAT_PROVIDER=openai`` pointed at a fake OpenAI-compatible server (raw asyncio, this
   file with ``--fake-model``) that streams every chat completion as ``--chunks`` text chunks
   spread over ``--stream-seconds``: ``--concurrency`` simultaneous messages and SSE streams;
   success rate (a ``done`` event received), time to first token and total time, p50/p99.

The sequential run and each burst report the server's CPU per answer, split into the app
process (web and in-process job workers) and its embedded PostgreSQL and Valkey; one at a time,
the server's idle work (job engine polls, metrics) falls on the answers too. With
``--before SRC`` (a ``src`` directory, e.g. of ``git worktree add --detach /tmp/before
<commit>``) a server running that code takes the same load first, with its own data dir; the
two never run at once.

Each run starts ``eco2 serve`` on a fresh embedded data dir (PostgreSQL + Valkey) pinned to
CPU 0; the fake model and this load generator share CPU 1. Messages are spread over many
signed-in users (``USERS``), each with its own chats, so the per-user rate limit (20 a minute)
is never what is measured. The load generator speaks raw HTTP/1.1 over asyncio streams so its
own cost stays out of the measured latency. Everything started is stopped on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from _support import (
    StreamRefused,
    cpu_by_process,
    free_port,
    percentile,
    read_http_message,
    refusal_code,
    sse_events,
    stop,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPU, CLIENT_CPU = {0}, {1}
USERS = 100
QUESTIONS = [
    "페트병 어떻게 버려?",
    "그럼 뚜껑은요?",
    "폐건전지 버리는 방법 알려줘",
    "깨진 유리컵은 어디에 버려요?",
    "우유팩 분리배출 방법",
    "스티로폼 박스 버리는 법",
    "음식물 묻은 비닐은 어떻게 해?",
    "형광등 배출 방법 알려주세요",
    "안녕하세요",
    "내가 모은 캐릭터 보여줘",
]
MODEL_ANSWER = (
    "투명 페트병은 **내용물을 비우고** 라벨을 떼어 헹군 뒤 찌그러뜨려 뚜껑을 닫아 "
    "투명 페트병 전용 수거함에 넣어 주세요. 근거: 재활용폐기물/무색페트병."
)


# --- fake model (child process) -------------------------------------------------------------


def completion_chunks(text: str, count: int) -> list[bytes]:
    """A streamed chat completion: ``count`` content chunks, then stop and ``[DONE]``."""
    size = max(1, -(-len(text) // count))
    pieces = [text[i : i + size] for i in range(0, len(text), size)]

    def event(delta: dict[str, str], finish: str | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    first = event({"role": "assistant", "content": ""})
    return [first, *(event({"content": p}) for p in pieces), event({}, "stop"), b"data: [DONE]\n\n"]


def http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def serve_fake_model(port: int, seconds: float, count: int) -> None:
    events = completion_chunks(MODEL_ANSWER, count)
    gap = seconds / max(1, len(events) - 2)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_http_message(reader)
                writer.write(head + http_chunk(events[0]))
                await writer.drain()
                for event in events[1:-2]:
                    await asyncio.sleep(gap)
                    writer.write(http_chunk(event))
                    await writer.drain()
                writer.write(http_chunk(events[-2]) + http_chunk(events[-1]) + b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


# --- processes ------------------------------------------------------------------------------


def spawn_model(seconds: float, count: int) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    args = [sys.executable, __file__, "--fake-model", "--port", str(port)]
    args += ["--stream-seconds", str(seconds), "--chunks", str(count)]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, CLIENT_CPU),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    return process, port


@contextlib.contextmanager
def eco2_serve(
    data_dir: Path, extra_env: dict[str, str], src: Path | None = None
) -> Iterator[tuple[int, str]]:
    """``eco2 serve`` on the embedded default (the code in ``src``, else this checkout's),
    pinned to CPU 0; yields (pid, base URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECO2_", "OPENAI_"))}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    env |= {
        "ECO2_ENV": "local",
        "ECO2_DATA_DIR": str(data_dir),
        "ECO2_LOG_LEVEL": "WARNING",
        "ECO2_WASTE_INDEX_DIR": str(Path(tempfile.gettempdir()) / "eco2-waste-index"),
        # A bench user sends far more than a person would: the per-user limits stay out of it.
        "ECO2_SCAN_RATE_LIMIT": "1000000",
        "ECO2_CHAT_RATE_LIMIT": "1000000",
        "ECO2_STREAM_MAX_PER_USER": "1000",
        **extra_env,
    }
    eco2 = shutil.which("eco2", path=str(Path(sys.executable).parent)) or "eco2"
    log = (data_dir.parent / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [eco2, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        preexec_fn=lambda: (os.setpgrp(), os.sched_setaffinity(0, SERVER_CPU)),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log.name)
        yield process.pid, base
    finally:
        stop(process, signal.SIGINT)
        log.close()


# --- load generator -------------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """A signed-in user's cookie and one of their chats."""

    cookie: str
    chat_id: str


@dataclass
class Result:
    ok: bool
    first_token: float | None
    total: float
    tokens: int = 0
    detail: str = ""


def seats(base: str, users: int, per_user: int) -> list[Seat]:
    """``users`` users with ``per_user`` chats each, interleaved so neighbours differ."""
    rows: list[list[Seat]] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(users):
            response = client.post("/api/v1/auth/dev/login", json={"nickname": f"벤치{n}"})
            response.raise_for_status()
            cookie = f"s_access={response.cookies['s_access']}"
            chats = []
            for _ in range(per_user):
                made = client.post("/api/v1/chat", json={}, headers={"cookie": cookie})
                made.raise_for_status()
                chats.append(Seat(cookie, made.json()["id"]))
            rows.append(chats)
    return [row[i] for i in range(per_user) for row in rows]


async def _post_message(host: str, port: int, seat: Seat, question: str) -> tuple[str, bytes]:
    body = json.dumps({"message": question}).encode()
    request = (
        f"POST /api/v1/chat/{seat.chat_id}/messages HTTP/1.1\r\nhost: {host}\r\n"
        f"content-type: application/json\r\ncookie: {seat.cookie}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head, body = await read_http_message(reader)
        return head.split(b" ", 2)[1].decode(), body
    finally:
        writer.close()


async def one_answer(host: str, port: int, seat: Seat, question: str, limit_s: float) -> Result:
    """POST the message, follow its SSE stream to ``done`` (ok) or ``error``."""
    started = time.perf_counter()
    first: float | None = None
    tokens = 0

    def result(ok: bool, detail: str = "") -> Result:
        return Result(ok, first, time.perf_counter() - started, tokens, detail)

    try:
        async with asyncio.timeout(limit_s):
            status, body = await _post_message(host, port, seat, question)
            if status != "202":
                return result(False, f"POST {status} {refusal_code(body)}")
            stream_url = json.loads(body)["stream_url"]
            async for name, data in sse_events(host, port, stream_url, seat.cookie):
                if name in (b"token", b"token_recovery"):  # a stream opened after the first
                    tokens += name == b"token"  # words gets them as one token_recovery
                    first = first if first is not None else time.perf_counter() - started
                elif name == b"done":
                    done = json.loads(data)
                    return result(done["status"] == "completed", done.get("message", ""))
                elif name == b"error":
                    return result(False, f"error {data[:80].decode(errors='replace')}")
            return result(False, "eof")
    except StreamRefused as exc:
        return result(False, str(exc))
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
        return result(False, type(exc).__name__)


def target(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


async def sequential(base: str, places: list[Seat], n: int) -> list[Result]:
    host, port = target(base)
    results = []
    for i in range(n):
        question = QUESTIONS[i % len(QUESTIONS)]
        results.append(await one_answer(host, port, places[i % len(places)], question, 60))
    return results


async def burst(base: str, places: list[Seat], n: int, limit_s: float) -> list[Result]:
    host, port = target(base)
    return await asyncio.gather(
        *(
            one_answer(host, port, places[i % len(places)], QUESTIONS[i % 8], limit_s)
            for i in range(n)
        )
    )


def report(name: str, results: list[Result], high: float) -> None:
    ok = [r for r in results if r.ok]
    totals = [r.total for r in ok] or [float("nan")]
    firsts = [r.first_token for r in ok if r.first_token is not None] or [float("nan")]
    failures = sorted({r.detail for r in results if not r.ok})
    tag = f"p{round(100 * high)}"
    print(
        f"{name}: {len(ok)}/{len(results)} done ({100 * len(ok) / len(results):.1f} %); "
        f"first token p50 {1000 * percentile(firsts, 0.5):.0f} ms, "
        f"{tag} {1000 * percentile(firsts, high):.0f} ms; "
        f"total p50 {1000 * percentile(totals, 0.5):.0f} ms, "
        f"{tag} {1000 * percentile(totals, high):.0f} ms, max {1000 * max(totals):.0f} ms; "
        f"tokens/answer {sum(r.tokens for r in ok) / max(1, len(ok)):.0f}"
        + (f"; failures: {failures[:5]}" if failures else "")
    )


def measured_burst(
    name: str, pid: int, data_dir: Path, base: str, places: list[Seat], limit_s: float
) -> None:
    """A burst of one answer per seat; completion, latency and the server's CPU per answer,
    split by process."""
    before = cpu_by_process(pid, data_dir)
    results = asyncio.run(burst(base, places, len(places), limit_s))
    used = {k: v - before[k] for k, v in cpu_by_process(pid, data_dir).items()}
    report(name, results, 0.99)
    n, done = len(places), max(1, sum(r.ok for r in results))
    print(
        f"server CPU {sum(used.values()):.2f} s: {per_answer(used, n)} per answer sent, "
        f"{1000 * sum(used.values()) / done:.1f} ms per answer completed; "
        f"machine load average {os.getloadavg()[0]:.1f}"
    )


def per_answer(used: dict[str, float], n: int) -> str:
    """CPU seconds by process as ms per answer: the total, then each process."""
    split = ", ".join(f"{k} {1000 * v / n:.1f}" for k, v in used.items())
    return f"{1000 * sum(used.values()) / n:.1f} ms ({split})"


def offline_runs(work: Path, label: str, src: Path | None, n: int, concurrency: int) -> None:
    data_dir = work / f"offline-{label}"
    with eco2_serve(data_dir, {"ECO2_CHAT_PROVIDER": "offline"}, src) as (pid, base):
        places = seats(base, USERS, -(-(concurrency + 20) // USERS))
        asyncio.run(sequential(base, places, 10))  # warm-up
        print(f"\n[{label}] eco2 serve (1 process, CPU 0), offline provider · {USERS} users")
        before = cpu_by_process(pid, data_dir)
        report("sequential", asyncio.run(sequential(base, places, n)), 0.95)
        used = {k: v - before[k] for k, v in cpu_by_process(pid, data_dir).items()}
        print(f"server CPU per answer, one at a time (idle work included): {per_answer(used, n)}")
        asyncio.run(burst(base, places[-20:], 20, 60))  # warm-up
        name = f"{concurrency} concurrent streams"
        measured_burst(name, pid, data_dir, base, places[:concurrency], 120)


def model_runs(
    work: Path, label: str, src: Path | None, model_port: int, concurrency: int, seconds: float
) -> None:
    llm = {
        "ECO2_CHAT_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
    }
    data_dir = work / f"openai-{label}"
    with eco2_serve(data_dir, llm, src) as (pid, base):
        places = seats(base, USERS, -(-(concurrency + 20) // USERS))
        asyncio.run(burst(base, places[-20:], 20, seconds + 30))  # warm-up
        print(f"\n[{label}] eco2 serve (1 process, CPU 0), openai provider on a fake model")
        name = f"{concurrency} concurrent streams"
        measured_burst(name, pid, data_dir, base, places[:concurrency], seconds + 60)


def run(
    sequential_n: int,
    concurrency: int,
    seconds: float,
    chunks: int,
    providers: set[str],
    before: Path | None,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit
    os.sched_setaffinity(0, CLIENT_CPU)
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-chat-"))
    sources = {"before": before, "after": None} if before else {"after": None}
    model = None
    print(f"load average {os.getloadavg()[0]:.1f} before the run")
    try:
        if "offline" in providers:
            for label, src in sources.items():
                offline_runs(work, label, src, sequential_n, concurrency)
        if "openai" in providers:
            model, model_port = spawn_model(seconds, chunks)
            print(f"\nfake model: {chunks} chunks over {seconds} s per answer")
            for label, src in sources.items():
                model_runs(work, label, src, model_port, concurrency, seconds)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the children's shutdown is ours to wait for
        if model is not None:
            stop(model, signal.SIGTERM)
        if os.environ.get("KEEP"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@click.command()
@click.option("--sequential", "sequential_n", default=50, show_default=True)
@click.option("--concurrency", default=500, show_default=True)
@click.option("--stream-seconds", default=2.0, show_default=True, help="Fake model stream (s).")
@click.option("--chunks", default=20, show_default=True, help="Content chunks per answer.")
@click.option(
    "--provider",
    "providers",
    multiple=True,
    type=click.Choice(["offline", "openai"]),
    default=["offline", "openai"],
    show_default=True,
    help="Which provider's runs (repeat for both).",
)
@click.option(
    "--before",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The old code's src dir: its server runs the same load first, in the same run.",
)
@click.option("--fake-model", is_flag=True, hidden=True)
@click.option("--port", default=0, hidden=True)
def main(
    sequential_n: int,
    concurrency: int,
    stream_seconds: float,
    chunks: int,
    providers: tuple[str, ...],
    before: Path | None,
    fake_model: bool,
    port: int,
) -> None:
    if fake_model:
        asyncio.run(serve_fake_model(port, stream_seconds, chunks))
        return
    run(sequential_n, concurrency, stream_seconds, chunks, set(providers), before)


if __name__ == "__main__":
    main()
