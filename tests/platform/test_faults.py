"""Fault injection (issue 12, items 11-13): the stores stall, die and come back; the API answers
503 with a code within its deadlines meanwhile, never a 500, and recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.migrate import upgrade
from eco2.platform.embedded import EmbeddedServer, free_port, start_postgres, start_valkey
from eco2.settings import Settings
from tests.conftest import dev_login, wipe
from tests.fakes.live import client_for

Client = AsyncTestClient[Litestar]
DEADLINE = 1.0  # every PostgreSQL/Redis deadline in these tests
UNAVAILABLE = {"database_unavailable", "dependency_timeout", "redis_unavailable"}


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A PostgreSQL of this module's own: it gets stopped, the shared one must not."""
    server = start_postgres(tmp_path_factory.mktemp("stalled-pg"))
    try:
        yield server
    finally:
        signal_postgres(server, signal.SIGCONT)
        server.stop()


@pytest.fixture
def stall_settings(base_settings: Settings, own_postgres: EmbeddedServer) -> Settings:
    settings = base_settings.model_copy(
        update={
            "database_url": own_postgres.url,
            "db_connect_timeout_seconds": DEADLINE,
            "db_statement_timeout_seconds": DEADLINE,
            "db_pool_timeout_seconds": DEADLINE,
        }
    )
    upgrade(settings, "head")
    return settings


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (PostgreSQL backends run in process groups of their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def signal_postgres(server: EmbeddedServer, signum: int) -> None:
    """The postmaster and every backend: a stalled server accepts nothing and answers nothing."""
    for pid in [server.process.pid, *_children(server.process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def assert_unavailable(response: object) -> None:
    status = getattr(response, "status_code", None)
    body = response.json() if status == 503 else None  # type: ignore[attr-defined]
    assert status == 503, (status, getattr(response, "text", ""))
    assert body["error"]["code"] in UNAVAILABLE | {"revocation_store_unavailable"}, body


async def test_stalled_postgres_fails_fast_with_503_and_recovers(
    stall_settings: Settings, own_postgres: EmbeddedServer
) -> None:
    async with client_for(stall_settings) as client:
        await dev_login(client)
        assert (await client.get("/api/v1/chat")).status_code == 200
        signal_postgres(own_postgres, signal.SIGSTOP)
        try:
            requests = [("GET", "/api/v1/chat", None)] * 3 + [
                ("POST", "/api/v1/chat", {"title": "멈춤"}),
                ("GET", "/api/v1/scan/history", None),
            ]
            for method, path, body in requests:
                started = time.monotonic()
                # without deadlines this hangs for as long as PostgreSQL stalls
                async with asyncio.timeout(15):
                    response = await client.request(method, path, json=body)
                assert_unavailable(response)
                # at worst a pre-ping and a reconnect, each bounded by the deadline
                assert time.monotonic() - started < 2 * DEADLINE + 1
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert "postgres" in ready.json()["error"]["failed"]
        finally:
            signal_postgres(own_postgres, signal.SIGCONT)
        await _until_ok(client, "/api/v1/chat")
        assert (await client.get("/ready")).status_code == 200
    await wipe(stall_settings)


async def _until_ok(client: Client, path: str, within: float = 20.0) -> list[int]:
    """Poll ``path`` until it answers 200; every status seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await client.get(path)
        seen.append(response.status_code)
        assert response.status_code != 500, response.text
        if response.status_code == 200:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} never recovered: {seen[-10:]}")


@pytest.fixture
async def own_valkey(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    server = start_valkey(tmp_path, free_port())
    try:
        yield server
    finally:
        server.stop()


async def test_redis_killed_and_restarted_gives_503_meanwhile_and_no_500_after(
    base_settings: Settings, own_valkey: EmbeddedServer, tmp_path: Path
) -> None:
    port = int(own_valkey.url.rsplit(":", 1)[1].split("/")[0])
    settings = base_settings.model_copy(
        update={
            "redis_url": own_valkey.url,
            "redis_connect_timeout_seconds": DEADLINE,
            "redis_socket_timeout_seconds": DEADLINE,
            "redis_pool_timeout_seconds": DEADLINE,
            "auth_kakao_client_id": "kakao-app",
        }
    )
    async with client_for(settings) as client:
        await dev_login(client)
        first = await client.post("/api/v1/chat/messages", json={"message": "페트병"})
        assert first.status_code == 200, first.text
        own_valkey.process.kill()
        own_valkey.process.wait()
        async with asyncio.timeout(15):
            down = [
                await client.get("/api/v1/auth/kakao"),
                await client.post("/api/v1/auth/dev/login", json={"nickname": "레디스"}),
                await client.post("/api/v1/chat/messages", json={"message": "캔"}),
            ]
        for response in down:
            assert_unavailable(response)
        restarted = start_valkey(tmp_path, port)
        try:
            # the pooled connections are stale now: the first requests after must not be 500s
            seen = await _until_ok(client, "/api/v1/user/me")
            assert 500 not in seen
            for _ in range(3):
                again = await client.post("/api/v1/chat/messages", json={"message": "유리병"})
                assert again.status_code == 200, again.text
            assert (await client.get("/api/v1/auth/kakao")).status_code == 200
        finally:
            restarted.stop()
