"""``eco2 serve`` as real child processes, each in its own process group so that stopping one
stops its server workers too and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 60.0


@dataclass
class Eco2Process:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        """Whether anything of its process group still runs."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 15) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:  # workers exit after the parent
                time.sleep(0.05)
            if not self.alive():
                return

    async def wait_ready(self) -> None:
        try:
            async with asyncio.timeout(READY_TIMEOUT), httpx.AsyncClient(timeout=2) as http:
                while self.process.poll() is None:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{self.url}/ready")).status_code == 200:
                            return
                    await asyncio.sleep(0.1)
        except TimeoutError:
            pass
        raise RuntimeError(f"{self.url} never became ready:\n{self.log.read_text()[-3000:]}")


def eco2_env(**settings: str) -> dict[str, str]:
    """The current environment without any ``ECO2_*`` setting, plus ``settings`` (and no news
    collection: the default feeds are real sites)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env["ECO2_NEWS_COLLECT_INTERVAL_SECONDS"] = "0"
    return env | {f"ECO2_{k.upper()}": v for k, v in settings.items()}


@contextlib.contextmanager
def eco2_serve(
    *domains: str, port: int, env: dict[str, str], log_dir: Path, command: str = "serve"
) -> Iterator[Eco2Process]:
    """``eco2 serve`` (or ``eco2 worker`` with ``command="worker"``) on ``port``."""
    log = log_dir / f"{command}-{'-'.join(domains) or 'all'}-{port}.log"
    args = [sys.executable, "-m", "eco2", command, "--port", str(port)]
    if command == "worker":
        args += ["--host", "127.0.0.1"]
    for domain in domains:
        args += ["--domain", domain]
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Eco2Process(f"http://127.0.0.1:{port}", process, log)
    try:
        yield served
    finally:
        served.stop()
