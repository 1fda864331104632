"""``eco2 dev split`` as a child process: Envoy with ext_authz in front of chosen domains.

The gateway answers once ``/api/v1/character/catalog`` (public) does, so ``character`` must be
among the domains. On exit it stops with SIGTERM and nothing it started may be left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from eco2.platform.embedded import die_with_parent, free_port
from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN, INTERNAL_TOKEN

START_TIMEOUT_SECONDS = 90.0


def split_env(
    settings: Settings, signing_key_pem: str, data_dir: Path, **variables: str
) -> dict[str, str]:
    """This environment without any ``ECO2_*`` setting, then the test's stores, keys and
    origins, then ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECO2_")}
    env.update(
        ECO2_ENV="local",
        ECO2_DATA_DIR=str(data_dir),
        ECO2_DATABASE_URL=settings.database_url or "",
        ECO2_REDIS_URL=settings.redis_url or "",
        ECO2_AUTH_SIGNING_KEYS=signing_key_pem,
        ECO2_CORS_ORIGINS=FRONTEND_ORIGIN,
        ECO2_INTERNAL_TOKEN=INTERNAL_TOKEN,
        ECO2_NEWS_COLLECT_INTERVAL_SECONDS="0",  # the default feeds are real sites
    )
    return env | variables


@contextlib.contextmanager
def dev_split(env: Mapping[str, str], domains: Sequence[str], log_dir: Path) -> Iterator[str]:
    """The gateway's URL while the topology runs (its logs in ``log_dir/split``)."""
    port = free_port()
    log = log_dir / "dev-split.log"
    selection = [arg for d in domains for arg in ("--domain", d)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eco2", "dev", "split", "--port", str(port), *selection],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),  # no stray gateway if pytest dies
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_gateway(url, process, log)
        family = _descendants(process.pid)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text(errors="replace")[-4000:]
    assert not [pid for pid in family if _alive(pid)], "orphans left behind"


def domain_urls(log_dir: Path) -> dict[str, str]:
    """Each domain process's own URL, from the summary ``eco2 dev split`` prints."""
    summary = (log_dir / "dev-split.log").read_text(errors="replace")
    line = next(line for line in summary.splitlines() if line.strip().startswith("domains "))
    ports = re.findall(r"(\w+):(\d+)", line.split("·")[0])
    return {name: f"http://127.0.0.1:{port}" for name, port in ports}


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_gateway(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        if "gateway (Envoy + ext_authz) at" not in log.read_text(errors="replace"):
            time.sleep(0.2)  # dev split prints this once every child reported ready
            continue
        try:
            if httpx.get(f"{url}/api/v1/character/catalog", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gateway not up in time:\n{log.read_text(errors='replace')[-4000:]}")
