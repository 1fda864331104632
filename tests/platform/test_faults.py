"""Fault injection (issue 12, items 11-13): the stores stall, die and come back; the API answers
503 with a code within its deadlines meanwhile, never a 500, and recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from eco2.migrate import upgrade
from eco2.platform.embedded import (
    EmbeddedServer,
    embedded_services,
    free_port,
    read_status,
    start_postgres,
    start_valkey,
)
from eco2.settings import Settings
from tests.conftest import dev_login, wipe
from tests.fakes.live import client_for, serve_app

Client = AsyncTestClient[Litestar]
DEADLINE = 1.0  # every PostgreSQL/Redis deadline in these tests
UNAVAILABLE = {"database_unavailable", "dependency_timeout", "redis_unavailable"}


def with_deadlines(base: Settings, **update: Any) -> Settings:
    """``base`` with every PostgreSQL/Redis deadline at ``DEADLINE``, plus ``update``."""
    deadlines = dict.fromkeys(
        (
            "db_connect_timeout_seconds",
            "db_statement_timeout_seconds",
            "db_pool_timeout_seconds",
            "redis_connect_timeout_seconds",
            "redis_socket_timeout_seconds",
            "redis_pool_timeout_seconds",
        ),
        DEADLINE,
    )
    return base.model_copy(update=deadlines | update)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


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
    settings = with_deadlines(base_settings, database_url=own_postgres.url)
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
    requests = [("GET", "/api/v1/chat", None)] * 3 + [
        ("POST", "/api/v1/chat", {"title": "멈춤"}),
        ("GET", "/api/v1/scan/history", None),
    ]
    # A real server and client timeouts: without deadlines each request hangs for as long as
    # PostgreSQL stalls, and the test fails on the client's timeout instead of hanging too.
    with serve_app(stall_settings) as api:
        async with httpx.AsyncClient(base_url=api, timeout=15) as client:
            signed_in = await client.post("/api/v1/auth/dev/login", json={"nickname": "멈춤"})
            assert signed_in.status_code == 200
            assert (await client.get("/api/v1/chat")).status_code == 200
            signal_postgres(own_postgres, signal.SIGSTOP)
            try:
                started = time.monotonic()
                stalled = await asyncio.gather(
                    *(client.request(method, path, json=body) for method, path, body in requests)
                )
                # at worst a pre-ping and a reconnect, each bounded by the deadline
                assert time.monotonic() - started < 3 * DEADLINE + 1
                for response in stalled:
                    assert_unavailable(response)
                ready = await client.get("/ready")
                assert ready.status_code == 503
                assert "postgres" in ready.json()["error"]["failed"]
            finally:
                signal_postgres(own_postgres, signal.SIGCONT)
            await _until_ok(client, "/api/v1/chat")
            assert (await client.get("/ready")).status_code == 200
    await wipe(stall_settings)


async def _until_ok(client: httpx.AsyncClient, path: str, within: float = 20.0) -> list[int]:
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
    port = _port(own_valkey.url)
    settings = with_deadlines(
        base_settings, redis_url=own_valkey.url, auth_kakao_client_id="kakao-app"
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


async def test_a_killed_embedded_valkey_is_restarted_on_its_data(
    base_settings: Settings, tmp_path: Path
) -> None:
    """Supervision of the embedded default (item 13): the dead server is reaped, restarted on
    the same port and data, and ``/ready`` says what is happening meanwhile."""
    with embedded_services(tmp_path, postgres=False, valkey=True, poll=1.0) as urls:
        redis = Redis.from_url(urls["redis_url"])
        await redis.set("kept", "across the restart")
        await asyncio.sleep(1.2)  # the append-only file is written every second
        status = read_status(tmp_path)
        assert status is not None
        pid = status["valkey"]["pid"]  # type: ignore[index]
        port = _port(urls["redis_url"])
        settings = with_deadlines(base_settings, redis_url=urls["redis_url"], data_dir=tmp_path)
        async with client_for(settings) as client:
            os.kill(pid, signal.SIGKILL)
            # Something else takes the port for a moment: the first restart fails.
            squatter = await _squat(port)
            try:
                embedded = await _until(client, lambda body: body["embedded"]["valkey"]["state"])
                assert embedded["valkey"]["state"] == "restarting"
                # reaped, not a zombie
                assert not await asyncio.to_thread(os.path.exists, f"/proc/{pid}")
            finally:
                squatter.close()
            await _until_ok(client, "/ready", within=30)
            ready = (await client.get("/ready")).json()
            assert ready["embedded"]["valkey"]["state"] == "running"
            assert ready["embedded"]["valkey"]["restarts"] == 1
            assert ready["embedded"]["valkey"]["pid"] != pid
        await redis.aclose()
        redis = Redis.from_url(urls["redis_url"])  # the old connection died with the server
        assert await redis.get("kept") == b"across the restart"
        await redis.aclose()
    assert read_status(tmp_path) is None  # the supervisor is gone with its servers


async def _squat(port: int) -> socket.socket:
    for _ in range(100):
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", port))
        except OSError:  # the dying server has not let go yet
            squatter.close()
            await asyncio.sleep(0.01)
            continue
        squatter.listen()
        return squatter
    raise AssertionError("the port never came free")


async def _until(client: Client, pick: Any, within: float = 10.0) -> dict[str, Any]:
    """``/ready``'s embedded section once it is there and ``pick`` finds it not running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = (await client.get("/ready")).json()
        with contextlib.suppress(KeyError, TypeError):
            if pick(body) != "running":
                return dict(body["embedded"])
        await asyncio.sleep(0.1)
    raise AssertionError("/ready never showed the restart")


class _Recorder:
    """Stands in for a module's structlog logger: keeps each call's event and fields."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.calls.append((level, event, fields))


async def test_database_errors_never_log_the_parameters(
    base_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing statement's 500 logs no user data (item 6: the log printed the SQL and its
    parameters; asyncpg's own message quotes the value too)."""
    from litestar.testing import RequestFactory
    from sqlalchemy import text

    from eco2.platform import errors
    from eco2.platform.db import create_engine

    engine = create_engine(base_settings)
    try:
        async with engine.connect() as conn:
            with pytest.raises(sqlalchemy.exc.DBAPIError) as failed:
                await conn.execute(text("SELECT CAST(:secret AS integer)"), {"secret": "비밀번호"})
    finally:
        await engine.dispose()
    assert "비밀번호" not in str(failed.value).split("\n[SQL")[1]  # hide_parameters
    recorder = _Recorder()
    monkeypatch.setattr(errors, "log", recorder)
    handler = errors.exception_handlers()[Exception]
    response = handler(RequestFactory().get("/api/v1/chat"), failed.value)  # type: ignore[operator]
    assert response.status_code == 500
    ((level, event, fields),) = recorder.calls
    assert (level, event) == ("error", "unhandled_error")  # not .exception: no traceback
    assert fields["statement"] == "SELECT CAST($1 AS integer)"
    assert "비밀번호" not in repr(fields)
