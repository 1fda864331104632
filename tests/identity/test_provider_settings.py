"""Providers without a client id are disabled (the test settings configure none)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fakes.oauth import PROVIDERS


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_disabled_provider(provider: str, client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(f"/api/v1/auth/{provider}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "provider_disabled"


async def test_disabled_provider_callback_redirects(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(
        "/api/v1/auth/kakao/callback?code=a&state=b", follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"].endswith("/#/login?error=invalid_state")
