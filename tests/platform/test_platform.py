"""Platform routes and cross-cutting behaviour: probes, metrics, request ids, CORS, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2 import registry
from eco2.app import create_app
from eco2.cli import main
from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN, OTHER_ORIGIN, dev_login
from tests.fakes.live import client_for, closed_port_url

Client = AsyncTestClient[Litestar]


async def test_health(client: Client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready(client: Client) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"postgres", "redis"}


async def test_not_ready_names_the_failed_dependency(settings: Settings) -> None:
    with closed_port_url() as dead:
        no_redis = settings.model_copy(update={"redis_url": dead.replace("http", "redis")})
        async with client_for(no_redis) as client:
            response = await client.get("/ready")
            health = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["error"]["failed"] == ["redis"]
    assert "redis" in response.json()["error"]["message"]
    assert health.status_code == 200  # liveness does not depend on Redis


def counter(metrics: str, method: str, path: str, status: int) -> float:
    pattern = (
        rf'^eco2_requests_total{{[^}}]*method="{method}",path="{re.escape(path)}",'
        rf'status_code="{status}"[^}}]*}} (\S+)$'
    )
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found[1]) if found else 0.0


async def test_metrics_count_per_route_template(client: Client) -> None:
    template = "/api/v1/auth/{provider}"
    before = counter((await client.get("/metrics")).text, "GET", template, 404)
    for provider in ("kakao", "google", "naver"):
        await client.get(f"/api/v1/auth/{provider}")  # disabled in the test settings: 404
    await client.get("/api/v1/user/me")

    text = (await client.get("/metrics")).text

    assert counter(text, "GET", template, 404) == before + 3
    assert counter(text, "GET", "/api/v1/user/me", 401) >= 1
    assert "/api/v1/auth/kakao" not in text  # raw paths would explode cardinality
    assert "eco2_request_duration_seconds_bucket{" in text


async def test_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/health", headers={"x-request-id": "abc-123.XYZ:9"})
    assert response.headers["x-request-id"] == "abc-123.XYZ:9"


@pytest.mark.parametrize("incoming", [None, "has spaces", "x" * 200, "<script>"])
async def test_request_id_is_generated_or_replaced(client: Client, incoming: str | None) -> None:
    headers = {"x-request-id": incoming} if incoming else {}
    response = await client.get("/health", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_request_id_on_errors_too(client: Client) -> None:
    response = await client.get("/api/v1/user/me", headers={"x-request-id": "trace-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-1"


# --- CORS (contract §1.2) ---------------------------------------------------------------------


@pytest.mark.parametrize("origin", [FRONTEND_ORIGIN, OTHER_ORIGIN])
async def test_preflight_from_an_allowed_origin(client: Client, origin: str) -> None:
    response = await client.options(
        "/api/v1/user/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type,x-frontend-origin",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PATCH"} <= methods
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-frontend-origin" in allowed
    assert "content-type" in allowed


@pytest.mark.parametrize("origin", ["https://localhost:5173", "http://localhost:5173"])
async def test_the_client_dev_server_is_allowed_by_default(
    base_settings: Settings, origin: str
) -> None:
    """The web client's vite dev server runs on https://localhost:5173 (self-signed)."""
    defaults = Settings(database_url="postgresql://unused", redis_url="redis://unused")
    settings = base_settings.model_copy(update={"cors_origins": defaults.cors_origins})
    async with client_for(settings) as client:
        response = await client.options(
            "/api/v1/users/me",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_credentialed_response_echoes_the_exact_origin(client: Client) -> None:
    response = await client.get("/api/v1/user/me", headers={"Origin": OTHER_ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == OTHER_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_disallowed_origin_gets_no_cors_headers(client: Client) -> None:
    evil = "https://evil.example"
    preflight = await client.options(
        "/api/v1/user/me",
        headers={"Origin": evil, "Access-Control-Request-Method": "GET"},
    )
    simple = await client.get("/health", headers={"Origin": evil})
    for response in (preflight, simple):
        assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code != 403  # a 403 would log the web client out


# --- one error shape --------------------------------------------------------------------------


def assert_error(response: object, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error.get("field") == field
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


async def test_unknown_path(client: Client) -> None:
    assert_error(await client.get("/api/v1/nope"), 404, "not_found")


async def test_method_not_allowed(client: Client) -> None:
    assert_error(await client.put("/api/v1/user/me"), 405, "method_not_allowed")


async def test_validation_error_names_the_field(client: Client) -> None:
    await dev_login(client)
    response = await client.patch("/api/v1/user/me", json={"nickname": 5})
    assert_error(response, 422, "validation_error", "nickname")


@pytest.mark.parametrize("body", [b'{"nickname": ', b"{bad", b'{"nickname": "a",}'])
async def test_invalid_json(client: Client, body: bytes) -> None:
    await dev_login(client)
    response = await client.patch(
        "/api/v1/user/me", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")


# --- process shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
async def test_dev_login_does_not_exist_outside_local(settings: Settings, env: str) -> None:
    async with client_for(settings.model_copy(update={"env": env})) as client:
        response = await client.post("/api/v1/auth/dev/login", json={"nickname": "해커"})
        assert response.status_code == 404
        assert (await client.get("/ready")).status_code == 200


def test_serve_refuses_an_unknown_domain() -> None:
    result = CliRunner().invoke(main, ["serve", "--domain", "nope"])
    assert result.exit_code == 2
    for name in registry.DOMAIN_NAMES:
        assert name in result.output


def _serve_with_port(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Settings, int]:
    """``eco2 serve`` up to the server start: the settings it resolved, the port it binds."""
    import contextlib

    import granian.server

    from eco2 import cli
    from eco2.settings import get_settings

    seen: dict[str, object] = {}

    class Server:
        def __init__(self, *_: object, port: int, **__: object) -> None:
            seen["port"] = port

        def serve(self) -> None:
            seen["settings"] = get_settings()

    @contextlib.contextmanager
    def resolved() -> Iterator[Settings]:
        yield get_settings()

    monkeypatch.setattr(granian.server, "Server", Server)
    monkeypatch.setattr(cli, "resolved_environment", resolved)
    for name in ("ECO2_PUBLIC_BASE_URL", "ECO2_DOMAINS"):  # restored (unset) after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["serve", *args])
        assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    assert isinstance(seen["settings"], Settings)
    assert isinstance(seen["port"], int)
    return seen["settings"], seen["port"]


def test_serve_on_another_port_builds_urls_for_that_port(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, port = _serve_with_port(monkeypatch, "--port", "8123")
    assert port == 8123
    assert settings.public_base_url == "http://localhost:8123"


def test_an_explicit_public_base_url_wins_over_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from eco2.cli import default_public_base_url

    monkeypatch.setenv("ECO2_PUBLIC_BASE_URL", "https://api.example.org")
    default_public_base_url("0.0.0.0", 9000)  # noqa: S104
    assert os.environ["ECO2_PUBLIC_BASE_URL"] == "https://api.example.org"
    monkeypatch.delenv("ECO2_PUBLIC_BASE_URL")
    default_public_base_url("10.0.0.7", 9000)
    assert os.environ["ECO2_PUBLIC_BASE_URL"] == "http://10.0.0.7:9000"


@pytest.mark.parametrize("name", registry.DOMAIN_NAMES)
def test_a_domain_process_serves_only_its_routes(name: str, base_settings: Settings) -> None:
    domain = registry.get_domain(name)
    own = (*domain.prefixes, domain.internal_prefix, "/health", "/ready", "/metrics", "/docs")
    app = create_app([name], settings=base_settings)
    foreign = [r.path for r in app.routes if not r.path.startswith(own)]
    assert foreign == []
    assert any(r.path.startswith(domain.prefixes) for r in app.routes)


async def test_each_app_hands_its_handlers_its_own_services(settings: Settings) -> None:
    """Domain services are provided app-wide over each app's own registry: two apps in one
    process (tests, ``--domain`` pods) never hand out each other's services."""
    from eco2.domains.users.services import UserService

    apps = [create_app(["users"], settings=settings) for _ in range(2)]
    async with AsyncTestClient(apps[0]), AsyncTestClient(apps[1]):
        provided = [await app.dependencies["users"]() for app in apps]
        started = [app.state.runtime.service("users", UserService) for app in apps]
    assert provided == started
    assert provided[0] is not provided[1]


def test_settle_heap_freezes_start_up_objects_and_raises_thresholds() -> None:
    import gc

    from eco2.platform.heap import YOUNG_THRESHOLD, settle_heap

    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_the_local_signing_key_is_minted_before_workers_start(
    servers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers that each found no key would each mint their own and refuse the other's tokens."""
    from eco2.cli import resolved_environment
    from eco2.keys import local_key_files
    from eco2.settings import get_settings

    for name, value in {
        "ECO2_ENV": "local",
        "ECO2_DATA_DIR": str(tmp_path),
        "ECO2_DATABASE_URL": servers["database_url"],
        "ECO2_REDIS_URL": servers["redis_url"],
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ECO2_AUTH_SIGNING_KEYS", raising=False)
    get_settings.cache_clear()
    try:
        with resolved_environment() as settings:
            assert len(local_key_files(settings, create=False)) == 1
    finally:
        get_settings.cache_clear()


async def test_domains_shut_down_before_the_process_wide_clients_close(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain on_shutdown hooks run after every lifespan manager, so a domain closing its
    background work (chat's streams) would find Redis already closed: a domain's lifecycle
    closes its service while the process-wide clients are still open."""
    from eco2.domains.chat.services import ChatService

    calls: list[str] = []
    close = ChatService.close

    async def probing_close(self: ChatService) -> None:
        calls.append("redis up" if await self.runtime.redis.ping() else "redis down")
        await close(self)

    monkeypatch.setattr(ChatService, "close", probing_close)
    app = create_app(["chat"], settings=settings)
    async with AsyncTestClient(app, base_url="http://testserver.local"):
        service = app.state.runtime.service("chat", ChatService)

    assert calls == ["redis up"]
    assert service.streams.hub.closed
    assert "chat" not in app.state.runtime.services
