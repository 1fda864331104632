"""Process and statistics helpers shared by the benchmark scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from eco2.platform.embedded import free_port

__all__ = [
    "cpu_reference",
    "cpu_seconds",
    "free_port",
    "percentile",
    "read_http_message",
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
