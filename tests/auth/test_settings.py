"""Settings-driven auth behaviour: disabled providers, cookie attributes, gateway trust."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.live import client_for, set_cookies
from tests.fakes.oauth import PROVIDERS


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_disabled_provider(provider: str, client: AsyncTestClient[Litestar]) -> None:
    """The test settings configure no client id at all."""
    response = await client.get(f"/api/v1/auth/{provider}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "provider_disabled"


async def test_disabled_provider_callback_redirects(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(
        "/api/v1/auth/kakao/callback?code=a&state=b", follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"].endswith("/#/login?error=invalid_state")


async def test_cookies_are_secure_outside_local(settings: Settings) -> None:
    dev = settings.model_copy(update={"env": "dev", "cookie_domain": ".growbin.app"})
    async with client_for(dev) as client:
        response = await client.post("/api/v1/auth/logout")
    cookies = set_cookies(response)
    assert set(cookies) == {ACCESS_COOKIE, REFRESH_COOKIE}
    for morsel in cookies.values():
        assert morsel["secure"] is True
        assert morsel["domain"] == ".growbin.app"
        assert morsel["httponly"] is True


async def test_cookie_secure_can_be_forced_locally(settings: Settings) -> None:
    async with client_for(settings.model_copy(update={"cookie_secure": True})) as client:
        response = await client.post("/api/v1/auth/dev/login", json={"nickname": "보안"})
    assert all(m["secure"] is True for m in set_cookies(response).values())


async def test_behind_the_gateway_its_headers_are_the_identity(settings: Settings) -> None:
    async with client_for(settings) as client:
        user_id = await dev_login(client)
    gateway = settings.model_copy(update={"auth_trust_gateway": True})
    async with client_for(gateway) as client:
        me = await client.get("/api/v1/user/me", headers={"x-user-id": user_id})
        anonymous = await client.get("/api/v1/user/me")
    assert me.status_code == 200
    assert me.json()["nickname"] == "테스터"
    assert anonymous.status_code == 401
