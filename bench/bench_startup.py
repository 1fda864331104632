"""Start-up time: ``eco2 serve`` on the embedded default, spawn to ``/ready`` = 200, on a fresh
data dir (initdb, migrations, the first place import, the knowledge index) and warm (the same
data dir again); optionally the old code beside the new, in turn.

    python bench/bench_startup.py [--rounds 3] [--before SRC]

Each round starts every code base twice, one after the other: fresh, then warm. Printed per
code base and start: the median and range over rounds, and the CPU seconds the server and its
children (the worker, the Kiwi process, the embedded stores) spent until ``/ready``, which
compares runs on a busy host better than wall time, and the latency of the first request
after ready that needs Kiwi and the index (an item search, ``/api/v1/info/items?q=``). The
target (issue 15): fresh ≤ 10 s, warm ≤ 3 s.

Before/after for issue 15 (main at 78ac29d)::

    git worktree add --detach /tmp/base15 78ac29d
    flock /tmp/eco2-bench.lock .venv/bin/python bench/bench_startup.py --before /tmp/base15/src
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _support import cpu_by_process, cpu_reference, free_port, stop, wait_ready

READY_TIMEOUT = 180.0
FIRST_SEARCH = "/api/v1/info/items?q=페트병 버리는 법"


def start(data_dir: Path, src: Path | None) -> tuple[float, float, float]:
    """Seconds from spawning ``eco2 serve`` (the code in ``src``, default: installed) until
    ``/ready`` answers 200, the CPU seconds spent meanwhile, and the seconds the first search
    then takes; the server is stopped before returning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env |= {"ECO2_DATA_DIR": str(data_dir), "ECO2_LOG_LEVEL": "WARNING"}
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    port = free_port()
    log = (data_dir.parent / "serve.log").open("ab")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "eco2", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, log.name, READY_TIMEOUT, poll=0.02)
        seconds = time.perf_counter() - started
        cpu_seconds = sum(cpu_by_process(process.pid, data_dir).values())
        began = time.perf_counter()
        found = httpx.get(f"http://127.0.0.1:{port}{FIRST_SEARCH}", timeout=READY_TIMEOUT)
        found.raise_for_status()
        return seconds, cpu_seconds, time.perf_counter() - began
    finally:
        stop(process, signal.SIGTERM)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, metavar="SRC", help="the old code's src dir")
    args = parser.parse_args()
    sources = {"before": args.before, "after": None} if args.before else {"after": None}
    print(f"load average {os.getloadavg()[0]:.1f} before the run; {os.cpu_count()} CPUs")
    times: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    first: dict[tuple[str, str], list[float]] = {}
    work = Path(tempfile.mkdtemp(prefix="eco2-bench-start-"))
    try:
        for n in range(args.rounds):
            for label, src in sources.items():
                data_dir = work / f"{label}-{n}" / "data"
                data_dir.parent.mkdir(parents=True)
                for kind in ("fresh", "warm"):
                    seconds, cpu_seconds, search = start(data_dir, src)
                    times.setdefault((label, kind), []).append(seconds)
                    cpu.setdefault((label, kind), []).append(cpu_seconds)
                    first.setdefault((label, kind), []).append(search)
                    print(
                        f"round {n + 1}: {label} {kind} {seconds:.2f} s, {cpu_seconds:.2f} s CPU,"
                        f" first search {search * 1000:.0f} ms",
                        flush=True,
                    )
                shutil.rmtree(data_dir.parent, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\neco2 serve (embedded default, 1 worker) spawn → /ready = 200 · {args.rounds} rounds")
    print(
        f"{'code':<8}{'start':<7}{'median s':>10}{'range s':>16}{'target s':>10}{'CPU s':>8}"
        f"{'1st search ms':>15}"
    )
    for (label, kind), samples in times.items():
        target = {"fresh": 10, "warm": 3}[kind]
        spread = f"{min(samples):.2f}–{max(samples):.2f}"
        used = statistics.median(cpu[label, kind])
        print(
            f"{label:<8}{kind:<7}{statistics.median(samples):>10.2f}{spread:>16}{target:>10}"
            f"{used:>8.2f}{statistics.median(first[label, kind]) * 1000:>15.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} after the run; {cpu_reference()}")


if __name__ == "__main__":
    main()
