"""Process and statistics helpers shared by the benchmark scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from eco2.platform.embedded import free_port

__all__ = [
    "StreamRefused",
    "cpu_by_process",
    "cpu_reference",
    "cpu_seconds",
    "free_port",
    "percentile",
    "read_http_message",
    "sse_events",
    "stop",
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
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return head, await reader.readexactly(length)


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
            raise StreamRefused(f"GET {status}")
        async for block in sse_blocks(reader, head):
            data = sse_field(block, b"data")
            if data is not None:
                yield sse_field(block, b"event") or b"message", data
    finally:
        writer.close()


def sse_field(block: bytes, name: bytes) -> bytes | None:
    """One field (``event``, ``data``, ``id``) of an SSE block."""
    prefix = name + b": "
    return next((ln[len(prefix) :] for ln in block.split(b"\n") if ln.startswith(prefix)), None)
