"""End to end through a real Envoy: ``eco2 dev split`` with ext_authz in front of every route.

One split topology per module (auth, users, character, authz, Envoy) on the test database
and a Valkey of its own, so the last test can stop Redis under it and bring it back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eco2.platform.embedded import EmbeddedServer, start_valkey
from eco2.platform.revocations import ENFORCEMENT_BOUND_SECONDS
from eco2.platform.security import KeyRing
from eco2.settings import Settings
from tests.authz.conftest import make_codec
from tests.conftest import FRONTEND_ORIGIN
from tests.fakes.gateway import dev_split, split_env

pytestmark = pytest.mark.slow

ME = "/api/v1/user/me"
DOMAINS = ("auth", "users", "character")


class Redis:
    """A Valkey the test can stop and start again on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: EmbeddedServer = start_valkey(data_dir)
        self.port = int(self.server.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = start_valkey(self.data_dir, port=self.port)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("gateway-redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    base_settings: Settings,
    signing_key_pem: str,
    redis: Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("split")
    redis_url = f"redis://127.0.0.1:{redis.port}/0"
    env = split_env(base_settings, signing_key_pem, data_dir, ECO2_REDIS_URL=redis_url)
    with dev_split(env, DOMAINS, data_dir) as url:
        yield url


@pytest.fixture
def http(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=5) as client:
        yield client


def login(http: httpx.Client, nickname: str) -> tuple[str, str]:
    """(user id, access token) of a fresh local sign-in through the gateway."""
    response = http.post("/api/v1/auth/dev/login", json={"nickname": nickname})
    assert response.status_code == 200, response.text
    http.cookies.clear()  # every request below states its credentials explicitly
    return response.json()["data"]["user_id"], response.cookies["s_access"]


def test_public_route_needs_no_token(http: httpx.Client) -> None:
    assert http.get("/api/v1/character/catalog").status_code == 200
    assert http.get("/api/v1/auth/.well-known/jwks.json").json()["keys"]


def test_protected_route_without_token_is_a_readable_401(http: httpx.Client) -> None:
    response = http.get(ME, headers={"Origin": FRONTEND_ORIGIN})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"
    assert response.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


def test_cookie_session_reaches_the_upstream_as_identity(http: httpx.Client) -> None:
    _, token = login(http, "게이트웨이")
    response = http.get(ME, headers={"Cookie": f"s_access={token}"})
    assert response.status_code == 200, response.text  # users trusts only x-user-id
    assert response.json()["nickname"] == "게이트웨이"


def test_forged_identity_headers_are_stripped(http: httpx.Client) -> None:
    victim, _ = login(http, "피해자")
    _, token = login(http, "공격자")
    assert http.get(ME, headers={"x-user-id": victim}).status_code == 401
    forged = {"Authorization": f"Bearer {token}", "x-user-id": victim, "x-auth-provider": "x"}
    me = http.get(ME, headers=forged)
    assert (me.status_code, me.json()["nickname"]) == (200, "공격자")


def test_logout_is_enforced_within_the_bound(http: httpx.Client) -> None:
    _, token = login(http, "로그아웃")
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get(ME, headers=bearer).status_code == 200
    assert http.post("/api/v1/auth/logout", headers={"Cookie": f"s_access={token}"}).is_success
    started = time.monotonic()
    while http.get(ME, headers=bearer).status_code != 401:
        assert time.monotonic() - started <= ENFORCEMENT_BOUND_SECONDS


def test_preflight_passes_to_the_upstream_cors(http: httpx.Client) -> None:
    response = http.options(
        ME,
        headers={"Origin": FRONTEND_ORIGIN, "Access-Control-Request-Method": "PATCH"},
    )
    assert response.is_success
    assert response.headers["access-control-allow-origin"] == FRONTEND_ORIGIN


def test_expired_token_is_401(http: httpx.Client, signing_key_pem: str) -> None:
    user_id, _ = login(http, "만료")
    codec = make_codec(KeyRing.from_pems([signing_key_pem]), access_ttl=-120)
    expired = codec.issue("access", user_id=user_id, provider="local", family_id="f").value
    response = http.get(ME, headers={"Authorization": f"Bearer {expired}"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_token")


def test_redis_outage_fails_closed_then_recovers(http: httpx.Client, redis: Redis) -> None:
    _, token = login(http, "장애")
    bearer = {"Authorization": f"Bearer {token}"}
    redis.stop()
    try:
        time.sleep(ENFORCEMENT_BOUND_SECONDS)
        down = http.get(ME, headers=bearer)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "revocation_store_unavailable"
    finally:
        redis.start()
    deadline = time.monotonic() + 10
    while http.get(ME, headers=bearer).status_code != 200:
        assert time.monotonic() < deadline, "authz did not recover"
        time.sleep(0.1)
