"""``/api/v1/user/me`` (and the plural aliases): read, edit, delete for real (contract §3.5–3.6)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.db import count, erased

Client = AsyncTestClient[Litestar]
ME = "/api/v1/user/me"
PROFILE_FIELDS = {"username", "nickname", "phone_number", "provider", "profile_image_url",
                  "last_login_at"}  # fmt: skip
USER_TABLES = ("users.users", "auth.linked_accounts", "auth.login_audit", "auth.refresh_tokens",
               "character.ownerships")  # fmt: skip


async def test_profile_is_a_bare_object(client: Client, user_id: str) -> None:
    response = await client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_FIELDS
    assert body["username"] == "테스터"
    assert body["nickname"] == "테스터"
    assert body["provider"] == "local"
    assert body["phone_number"] is None
    assert datetime.fromisoformat(body["last_login_at"]).tzinfo is not None


async def test_last_login_moves_on_each_login(client: Client, user_id: str) -> None:
    first = (await client.get(ME)).json()["last_login_at"]
    assert await dev_login(client) == user_id
    second = (await client.get(ME)).json()["last_login_at"]
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("  새 이름  ", "새 이름"),
        ("가" * 20, "가" * 20),
        ("x", "x"),
        ("이코🌱친구", "이코🌱친구"),
    ],
)
async def test_nickname_is_trimmed_and_kept(
    client: Client, user_id: str, sent: str, stored: str
) -> None:
    response = await client.patch(ME, json={"nickname": sent})

    assert response.status_code == 200
    assert response.json()["nickname"] == stored
    assert (await client.get(ME)).json()["nickname"] == stored


@pytest.mark.parametrize(
    "bad", ["", "   ", "가" * 21, "a\x00b", "a\nb", "tab\there", "zero\u200bwidth", "\u2028"]
)
async def test_bad_nicknames_are_422(client: Client, user_id: str, bad: str) -> None:
    response = await client.patch(ME, json={"nickname": bad})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "nickname"
    assert (await client.get(ME)).json()["nickname"] == "테스터"


@pytest.mark.parametrize(
    "sent",
    ["010-1234-5678", "+82 10 1234 5678", "+82-10-1234-5678", "01012345678", "(010) 1234.5678"],
)
async def test_phone_numbers_are_normalised(client: Client, user_id: str, sent: str) -> None:
    response = await client.patch(ME, json={"phone_number": sent})

    assert response.status_code == 200
    assert response.json()["phone_number"] == "01012345678"
    assert (await client.get(ME)).json()["phone_number"] == "01012345678"


async def test_old_ten_digit_mobile_numbers(client: Client, user_id: str) -> None:
    response = await client.patch(ME, json={"phone_number": "011-123-4567"})
    assert response.json()["phone_number"] == "0111234567"


@pytest.mark.parametrize(
    "bad", ["12345", "010-1234-567a", "02-123-4567", "010-1234-56789", "+1 10 1234 5678", "💬"]
)
async def test_bad_phone_numbers_are_422(client: Client, user_id: str, bad: str) -> None:
    response = await client.patch(ME, json={"phone_number": bad})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "phone_number"


@pytest.mark.parametrize("cleared", [None, "", "  "])
async def test_phone_number_can_be_cleared(client: Client, user_id: str, cleared: str) -> None:
    await client.patch(ME, json={"phone_number": "010-1234-5678"})
    response = await client.patch(ME, json={"phone_number": cleared})
    assert response.status_code == 200
    assert response.json()["phone_number"] is None


async def test_both_fields_at_once(client: Client, user_id: str) -> None:
    response = await client.patch(ME, json={"nickname": "둘다", "phone_number": "01099998888"})
    assert response.status_code == 200
    assert (response.json()["nickname"], response.json()["phone_number"]) == (
        "둘다",
        "01099998888",
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "a@b.c"}, {"nickname": "ok", "provider": "google"}, {"username": "x"}],
)
async def test_unknown_fields_and_empty_updates_are_422(
    client: Client, user_id: str, body: dict[str, str]
) -> None:
    response = await client.patch(ME, json=body)

    assert response.status_code == 422
    assert "error" in response.json()
    assert (await client.get(ME)).json()["nickname"] == "테스터"


async def test_plural_aliases(client: Client, user_id: str) -> None:
    assert (await client.get("/api/v1/users/me")).json() == (await client.get(ME)).json()
    patched = await client.patch("/api/v1/users/me", json={"nickname": "복수형"})
    assert patched.status_code == 200
    assert (await client.get(ME)).json()["nickname"] == "복수형"
    names = [c["name"] for c in (await client.get("/api/v1/users/me/characters")).json()]
    assert names == ["이코"]


@pytest.mark.parametrize("path", [ME, "/api/v1/users/me"])
async def test_delete_erases_the_account(
    client: Client, settings: Settings, user_id: str, path: str
) -> None:
    await client.patch(ME, json={"phone_number": "010-1234-5678"})
    assert (await client.get(f"{path}/characters")).status_code == 200
    for table in USER_TABLES:
        assert await count(settings, table, user_id) > 0, table
    access, refresh = client.cookies[ACCESS_COOKIE], client.cookies[REFRESH_COOKIE]

    response = await client.delete(path)

    assert response.status_code == 204
    await erased(settings, user_id)
    for table in USER_TABLES:
        assert await count(settings, table, user_id) == 0, table
    client.cookies.clear()
    assert (await client.get(ME, headers={"Authorization": f"Bearer {access}"})).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", headers={"X-Refresh-Token": refresh})
    assert refreshed.status_code == 401
    assert (
        await client.delete(ME, headers={"Authorization": f"Bearer {access}"})
    ).status_code == 401

    new_id = await dev_login(client)  # same local account name: a brand-new user

    assert new_id != user_id
    me = (await client.get(ME)).json()
    assert me["phone_number"] is None
    assert [c["name"] for c in (await client.get(f"{path}/characters")).json()] == ["이코"]


async def test_delete_leaves_other_users_alone(client: Client, settings: Settings) -> None:
    other = await dev_login(client, "다른사람")
    mine = await dev_login(client, "나")
    assert (await client.delete(ME)).status_code == 204
    await erased(settings, mine)
    assert await count(settings, "users.users", mine) == 0
    assert await count(settings, "users.users", other) == 1
    assert await count(settings, "character.ownerships", other) == 1


async def test_a_burst_of_profile_reads_gives_each_caller_their_own(client: Client) -> None:
    """Concurrent reads share queries (platform/batching): each still gets its own profile,
    and a change is seen by the next read while other reads are in flight."""
    tokens = {}
    for n in range(12):
        await dev_login(client, f"동시{n}")
        tokens[f"동시{n}"] = client.cookies[ACCESS_COOKIE]
    client.cookies.clear()

    async def me(token: str) -> str:
        response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        nickname: str = response.json()["nickname"]
        return nickname

    names = [name for name in tokens for _ in range(3)]
    assert await asyncio.gather(*(me(tokens[name]) for name in names)) == names

    changed = await client.patch(
        ME, json={"nickname": "바뀐이름"}, headers={"Authorization": f"Bearer {tokens['동시0']}"}
    )
    assert changed.status_code == 200
    others = [me(tokens[name]) for name in names if name != "동시0"]
    seen = await asyncio.gather(me(tokens["동시0"]), *others)
    assert seen[0] == "바뀐이름"
    assert seen[1:] == [name for name in names if name != "동시0"]
