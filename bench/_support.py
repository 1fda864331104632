"""Process and statistics helpers shared by the benchmark scripts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from eco2.platform.embedded import free_port

__all__ = [
    "StreamRefused",
    "cpu_by_process",
    "cpu_reference",
    "cpu_seconds",
    "descendants",
    "embedded_stores",
    "free_port",
    "move_to",
    "percentile",
    "read_http_message",
    "sse_events",
    "stop",
    "wait_ready",
    "wrk",
]


def stop(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], sig: int = signal.SIGINT
) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(
    base: str,
    process: subprocess.Popen[bytes],
    log: str,
    timeout: float = 300,
    poll: float = 0.2,
) -> None:
    """Until ``base/ready`` answers 200; an error naming the server's ``log`` if the server
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{base}/ready").status_code == 200:
                    return
            if process.poll() is not None:
                raise RuntimeError(f"the server exited during start-up (see {log})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready after {timeout:g} s (see {log})")
            time.sleep(poll)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(FileNotFoundError):
        kids = [int(c) for c in children.read_text().split()]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        total += sum(cpu_seconds(k) for k in kids)
    return total


def cpu_by_process(pid: int, data_dir: Path) -> dict[str, float]:
    """CPU seconds of an ``eco2 serve`` (``app``: web and in-process workers) and of its
    embedded stores (``postgres``, ``valkey``), exited children included."""
    totals = {"app": 0.0, "postgres": 0.0, "valkey": 0.0}
    for each in descendants(pid) | embedded_stores(data_dir):
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{each}/comm").read_text().strip()
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            name = next((n for n in ("postgres", "valkey") if comm.startswith(n)), "app")
            totals[name] += ticks / os.sysconf("SC_CLK_TCK")
    return totals


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_reference() -> str:
    """The speed of the core this process runs on, as the CPU time of a fixed Python loop.

    This VM's cores slow down while its host is busy (seen: 0.13 s to 0.24 s for this loop);
    printed beside results so that runs can be compared.
    """
    started = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i * i
    return f"reference loop {time.process_time() - started:.2f} s of CPU"


async def read_http_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 message with a ``content-length`` body (none: empty): (head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    return head, await _body(reader, head)


def descendants(pid: int) -> set[int]:
    found = {pid}
    with contextlib.suppress(FileNotFoundError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found |= descendants(int(child))
    return found


def embedded_stores(data_dir: Path) -> set[int]:
    """The embedded PostgreSQL and Valkey process trees (PostgreSQL runs detached)."""
    roots = set()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and str(data_dir).encode() in (proc / "cmdline").read_bytes():
                roots.add(int(proc.name))
    return set().union(*(descendants(p) for p in roots)) if roots else set()


def move_to(pids: set[int], cpus: set[int]) -> None:
    """Every thread of ``pids`` onto ``cpus`` (new PostgreSQL backends inherit the
    postmaster's)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            for thread in Path(f"/proc/{pid}/task").iterdir():
                os.sched_setaffinity(int(thread.name), cpus)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(out: str, quantile: str) -> float:
    found = re.search(rf"^\s+{quantile}%\s+([\d.]+)(us|ms|s|m)\b", out, re.MULTILINE)
    if found is None:
        raise ValueError(f"no {quantile}% latency in wrk's output:\n{out}")
    return float(found[1]) * _UNITS_MS[found[2]]


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: list[dict[str, str]] | None = None,
    cpus: set[int] | None = None,
) -> dict[str, float]:
    """One ``wrk`` run (one thread) in its own process, on ``cpus``: requests/s, p50/p99 in
    ms and the count of non-2xx answers and socket errors. ``headers``: one set per request in
    turn (e.g. many users' cookies)."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if headers:
            script.write(_rotating_headers(headers))
            script.flush()
            args += ["-s", script.name]
        out = subprocess.run(
            [*args, url],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rate[1]),
        "p50_ms": _wrk_ms(out, "50"),
        "p99_ms": _wrk_ms(out, "99"),
        "errors": float(non_2xx[1]) if non_2xx else 0.0,
        "socket_errors": float(sum(int(n) for n in re.findall(r"\d+", socket_errors[1])))
        if socket_errors
        else 0.0,
    }


def _rotating_headers(header_sets: list[dict[str, str]]) -> str:
    """A wrk script sending the header sets in turn, one per request."""

    def table(headers: dict[str, str]) -> str:
        return (
            "{"
            + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
            + "}"
        )

    rows = ",\n  ".join(table(h) for h in header_sets)
    return (
        f"local sets = {{\n  {rows}\n}}\nlocal n = 0\n"
        "request = function()\n  n = n % #sets + 1\n"
        "  return wrk.format(nil, nil, sets[n])\nend\n"
    )


async def sse_blocks(reader: asyncio.StreamReader, head: bytes) -> AsyncIterator[bytes]:
    """The SSE blocks of a response body whose ``head`` was read (chunked or read to the end)."""
    chunked = b"transfer-encoding: chunked" in head.lower()
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = (await reader.readexactly(size + 2))[:-2] if size else b""
        else:
            data = await reader.read(65536)
        if not data:
            return
        *blocks, buffer = (buffer + data).replace(b"\r\n", b"\n").split(b"\n\n")
        for block in blocks:
            yield block


class StreamRefused(Exception):
    """The SSE request was answered with another status than 200."""


async def sse_events(
    host: str, port: int, path: str, cookie: str
) -> AsyncIterator[tuple[bytes, bytes]]:
    """``GET path`` as an event stream: (event name, data) per event until the body ends."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nhost: {host}\r\ncookie: {cookie}\r\n"
            f"accept: text/event-stream\r\nconnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode()
        if status != "200":
            raise StreamRefused(f"GET {status} {refusal_code(await _body(reader, head))}")
        async for block in sse_blocks(reader, head):
            data = sse_field(block, b"data")
            if data is not None:
                yield sse_field(block, b"event") or b"message", data
    finally:
        writer.close()


async def _body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The ``content-length`` body after ``head`` (none: empty)."""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":")[1]))
    return b""


def refusal_code(body: bytes) -> str:
    """The ``error.code`` of a refusal (e.g. ``database_unavailable``), if it has one."""
    with contextlib.suppress(ValueError, AttributeError, TypeError, KeyError):
        return str(json.loads(body)["error"]["code"])
    return ""


def sse_field(block: bytes, name: bytes) -> bytes | None:
    """One field (``event``, ``data``, ``id``) of an SSE block."""
    prefix = name + b": "
    return next((ln[len(prefix) :] for ln in block.split(b"\n") if ln.startswith(prefix)), None)
