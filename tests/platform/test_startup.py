"""Start-up off the event loop (issue 12, item 15; issue 15): the knowledge index builds in a
thread that ``/ready`` waits for, and Kiwi loads in a process of its own (its load holds the
GIL for seconds), so the loop (and the revocation follower on it) never stalls and the first
search after ready is fast."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2 import migrate
from eco2.platform.embedded import applied_revisions
from eco2.platform.health import Readiness
from eco2.settings import Settings
from tests.fakes.live import client_for
from tests.fakes.processes import eco2_env

# A fresh server process: ``eco2.serving.asgi`` as granian calls it, then the app's lifespan with
# a ticker measuring how long the event loop goes without running it. A stall is counted in the
# CPU time the process spent meanwhile (a thread holding the GIL burns it; a process the OS
# does not schedule on a loaded machine does not), and never more than the wall time it lasted.
# The first search is timed in its thread's CPU time for the same reason.
SERVER_START = """
import asyncio, json, time
from eco2.serving import asgi

async def main() -> None:
    app = asgi()
    gaps, running = [0.0], True

    async def tick() -> None:
        last, last_cpu = time.monotonic(), time.process_time()
        while running:
            await asyncio.sleep(0.005)
            now, cpu = time.monotonic(), time.process_time()
            gaps.append(min(now - last, cpu - last_cpu))
            last, last_cpu = now, cpu

    def search_cpu_seconds(query: str) -> float:
        from eco2.knowledge import search
        began = time.thread_time()
        search(query, 5)
        return time.thread_time() - began

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    async with app.lifespan():
        startup = time.monotonic() - started
        await asyncio.wait_for(app.state.readiness.wait_warm(), 180)
        warm = time.monotonic() - started
        warming = app.state.readiness.warming()
        failed = app.state.readiness.warm_up_failures()
        first_search = await asyncio.to_thread(search_cpu_seconds, "페트병 버리는 법")
        running = False
        await ticker
    print(json.dumps({"max_gap": max(gaps), "startup": startup, "warm": warm,
                      "warming": warming, "failed": failed, "first_search": first_search}))

asyncio.run(main())
"""


def test_server_start_never_stalls_the_event_loop(
    base_settings: Settings, signing_key_pem: str, tmp_path: Path
) -> None:
    env = eco2_env(
        env="local",
        database_url=base_settings.database_url or "",
        redis_url=base_settings.redis_url or "",
        data_dir=str(tmp_path),
        auth_signing_keys=signing_key_pem,
        location_import_on_start="false",
        waste_index_dir=str(base_settings.knowledge_index_dir),
    )
    done = subprocess.run(
        [sys.executable, "-c", SERVER_START],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["max_gap"] < 0.75, measured  # was 1.5-2.5 s: Kiwi's load holds the GIL
    assert measured["warming"] == [], measured
    assert measured["failed"] == [], measured
    assert measured["first_search"] < 1.0, measured  # ready means Kiwi has loaded too


async def test_ready_waits_for_warm_ups_and_names_them(settings: Settings) -> None:
    release = threading.Event()

    def slow_index() -> None:
        release.wait(30)

    async with client_for(settings) as client:
        await until_ready(client)  # the app's own warm-ups first, at whatever pace the machine has
        app: Litestar = client.app
        readiness: Readiness = app.state.readiness
        await asyncio.to_thread(
            client.blocking_portal.call, readiness.warm, "test-index", slow_index
        )
        starting = await client.get("/ready")
        assert starting.status_code == 503
        assert starting.json()["status"] == "starting"
        assert starting.json()["warming"] == ["test-index"]
        assert starting.json()["error"]["code"] == "warming_up"
        assert (await client.get("/health")).status_code == 200  # alive meanwhile
        release.set()
        await until_ready(client)


async def until_ready(client: AsyncTestClient[Litestar], within: float = 120.0) -> None:
    for _ in range(int(within / 0.05)):
        if (await client.get("/ready")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    pytest.fail("never ready after the warm-ups finished")


def test_a_start_checks_a_current_schema_with_one_query(
    base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic runs when the data dir's stamp is missing or stale (other migrations, or the
    database says otherwise); a start on a current schema asks the database only."""
    settings = base_settings.model_copy(update={"data_dir": tmp_path})
    upgrades: list[str] = []
    real_upgrade = migrate.upgrade

    def counted(settings: Settings, revision: str = "head") -> None:
        upgrades.append(revision)
        real_upgrade(settings, revision)

    monkeypatch.setattr(migrate, "upgrade", counted)
    applied = partial(applied_revisions, settings.database_url or "")
    assert len(applied() or ()) == 1

    migrate.upgrade_unless_current(settings, applied)  # no stamp yet
    assert upgrades == ["head"]
    stamp = json.loads((tmp_path / migrate.STAMP_FILE).read_text())
    assert set(stamp["heads"]) == applied()
    migrate.upgrade_unless_current(settings, applied)  # current: one query
    assert upgrades == ["head"]
    migrate.upgrade_unless_current(settings, lambda: {"0001_identity"})  # the database is behind
    migrate.upgrade_unless_current(settings, lambda: None)  # the database cannot tell
    assert upgrades == ["head"] * 3
    monkeypatch.setattr(migrate, "migrations_fingerprint", lambda: "edited migrations")
    migrate.upgrade_unless_current(settings, applied)
    assert upgrades == ["head"] * 4
