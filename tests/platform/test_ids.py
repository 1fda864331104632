"""A malformed id names nothing: the same 404 (with the resource's code) as an unknown one,
whichever domain and route receive it; never a 422 that tells ids apart by shape, never a 500."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2 import registry
from eco2.platform.internal import INTERNAL_TOKEN_HEADER
from tests.conftest import INTERNAL_TOKEN

Client = AsyncTestClient[Litestar]
MALFORMED = "not-a-uuid"
INTERNAL = {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN}
WITH_USER_DATA = [d.name for d in registry.DOMAINS if d.holds_user_data]


def assert_not_found(response: httpx.Response, code: str) -> None:
    assert (response.status_code, response.json()["error"]["code"]) == (404, code), response.text


@pytest.mark.parametrize("domain", WITH_USER_DATA)
async def test_erasing_a_malformed_user_id_is_404(client: Client, domain: str) -> None:
    response = await client.delete(f"/internal/{domain}/users/{MALFORMED}", headers=INTERNAL)
    assert_not_found(response, "user_not_found")


async def test_malformed_ids_in_user_routes_are_404(client: Client, user_id: str) -> None:
    assert_not_found(await client.get(f"/api/v1/scan/{MALFORMED}/result"), "scan_not_found")
    assert_not_found(await client.get(f"/api/v1/chat/{MALFORMED}"), "chat_not_found")
    assert_not_found(await client.delete(f"/api/v1/chat/{MALFORMED}"), "chat_not_found")


async def test_malformed_user_ids_in_internal_calls_are_404(client: Client) -> None:
    login = {"user_id": MALFORMED, "profile": {"provider": "kakao"}}
    response = await client.post("/internal/users/logins", json=login, headers=INTERNAL)
    assert_not_found(response, "user_not_found")
    mascot = await client.post(f"/internal/character/users/{MALFORMED}/mascot", headers=INTERNAL)
    assert_not_found(mascot, "user_not_found")
