"""Character catalog, my collection, and the idempotent reward interface (contract §3.7, §5)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.domains.character.interface import character_port
from eco2.domains.character.schemas import Reward
from eco2.platform.internal import INTERNAL_TOKEN_HEADER
from eco2.platform.runtime import Runtime
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN, dev_login
from tests.fakes.db import sql
from tests.fakes.live import with_runtime

Client = AsyncTestClient[Litestar]
MINE = "/api/v1/user/me/characters"
# contract §5: middle category → character name; 이코 is the mascot without a category
CONTRACT = {
    "종이": "페이피",
    "종이팩": "팩토리",
    "무색페트병": "페티",
    "비닐류": "비니",
    "유리병": "글래시",
    "의류및원단": "코튼",
    "플라스틱류": "플리",
    "금속류": "메탈리",
    "전지": "배리",
    "조명제품": "라이티",
    "전기전자제품": "일렉",
    "발포합성수지": "폼이",
}


async def grant(client: Client, user_id: str, middle: str, source_id: str) -> Reward | None:
    """Through the in-process reward port, as scan calls it."""
    return await with_runtime(
        client, lambda runtime: character_port(runtime).grant(user_id, middle, source_id)
    )


async def ownerships(settings: Settings, user_id: str, code: str | None = None) -> int:
    query = "SELECT count(*) FROM character.ownerships WHERE user_id = :u"
    rows = await sql(
        settings, query + (" AND character_code = :c" if code else ""), u=user_id, c=code
    )
    return int(rows[0][0])


async def test_catalog_has_exactly_the_contract_names(client: Client) -> None:
    response = await client.get("/api/v1/character/catalog")  # public: no login

    assert response.status_code == 200
    catalog = response.json()
    assert len(catalog) == 13
    assert {c["name"]: c["middle_category"] for c in catalog} == {"이코": None} | {
        name: middle for middle, name in CONTRACT.items()
    }
    assert len({c["code"] for c in catalog}) == 13
    for character in catalog:
        assert character["code"]
        assert character["type"]
        assert character["dialog"]


async def test_a_new_user_owns_only_eco(client: Client, user_id: str) -> None:
    response = await client.get(MINE)

    assert response.status_code == 200
    (eco,) = response.json()
    assert set(eco) == {"id", "code", "name", "type", "dialog", "acquired_at"}
    assert eco["name"] == "이코"
    uuid.UUID(eco["id"])
    assert datetime.fromisoformat(eco["acquired_at"]).tzinfo is not None


async def test_eco_is_always_in_the_list(client: Client, settings: Settings, user_id: str) -> None:
    await sql(settings, "DELETE FROM character.ownerships WHERE user_id = :u", u=user_id)
    assert [c["name"] for c in (await client.get(MINE)).json()] == ["이코"]


async def test_collection_is_newest_first(client: Client, user_id: str) -> None:
    for middle in ("종이", "유리병", "전지"):
        await grant(client, user_id, middle, f"scan-{middle}")

    names = [c["name"] for c in (await client.get(MINE)).json()]

    assert names == ["배리", "글래시", "페이피", "이코"]


async def test_grants_match_the_contract_table(client: Client, user_id: str) -> None:
    for middle, name in CONTRACT.items():
        reward = await grant(client, user_id, middle, f"scan-{middle}")
        assert reward is not None, middle
        assert (reward.name, reward.received, reward.already_owned) == (name, True, False)
        assert reward.dialog
        assert reward.type
        assert middle in reward.match_reason
    assert len((await client.get(MINE)).json()) == 13


async def test_grant_is_idempotent(client: Client, settings: Settings, user_id: str) -> None:
    first = await grant(client, user_id, "종이", "scan-1")
    again = await grant(client, user_id, "종이", "scan-2")

    assert first is not None
    assert again is not None
    assert (first.received, first.already_owned) == (True, False)
    assert (again.received, again.already_owned) == (False, True)
    assert again.name == first.name == "페이피"
    assert await ownerships(settings, user_id, "paper") == 1


async def test_concurrent_duplicate_grants_own_once(
    client: Client, settings: Settings, user_id: str
) -> None:
    async def twenty_at_once(runtime: Runtime) -> list[Reward | None]:
        port = character_port(runtime)
        return await asyncio.gather(
            *(port.grant(user_id, "무색페트병", f"scan-{i}") for i in range(20))
        )

    rewards = await with_runtime(client, twenty_at_once)

    assert all(r is not None and r.name == "페티" for r in rewards)
    assert sum(r.received for r in rewards if r) == 1
    assert sum(r.already_owned for r in rewards if r) == 19
    assert await ownerships(settings, user_id, "clear_pet") == 1


@pytest.mark.parametrize("middle", ["음식물", "일반쓰레기", "", "종이 "])
async def test_no_character_for_other_categories(
    client: Client, settings: Settings, user_id: str, middle: str
) -> None:
    assert await grant(client, user_id, middle, "scan-x") is None
    assert await ownerships(settings, user_id) == 1  # only 이코


# --- the internal HTTP route (the split deployment's reward call) -----------------------------


def grant_body(user_id: str, middle: str = "종이") -> dict[str, str]:
    return {"user_id": user_id, "middle_category": middle, "source_id": "scan-http"}


@pytest.mark.parametrize("token", [None, "", "wrong"])
async def test_internal_grant_requires_the_service_token(
    client: Client, settings: Settings, user_id: str, token: str | None
) -> None:
    headers = {INTERNAL_TOKEN_HEADER: token} if token is not None else {}
    response = await client.post(
        "/internal/character/grants", json=grant_body(user_id), headers=headers
    )
    assert response.status_code == 401
    assert await ownerships(settings, user_id) == 1


async def test_internal_grant(client: Client, settings: Settings, user_id: str) -> None:
    headers = {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN}
    url = "/internal/character/grants"

    first = await client.post(url, json=grant_body(user_id), headers=headers)
    retried = await client.post(url, json=grant_body(user_id), headers=headers)
    again = await client.post(
        url, json={**grant_body(user_id), "source_id": "scan-later"}, headers=headers
    )
    nothing = await client.post(url, json=grant_body(user_id, "음식물"), headers=headers)
    bad_user = await client.post(url, json=grant_body("not-a-uuid"), headers=headers)

    assert first.status_code == 200
    assert first.json()["reward"]["name"] == "페이피"
    assert first.json()["reward"]["received"] is True
    # The same grant again (a retried scan job) reports what it did the first time.
    assert retried.json()["reward"]["received"] is True
    assert again.json()["reward"]["received"] is False
    assert nothing.status_code == 200
    assert nothing.json() == {"reward": None}
    assert bad_user.status_code == 404
    assert bad_user.json()["error"]["code"] == "user_not_found"
    assert await ownerships(settings, user_id, "paper") == 1


async def test_collections_are_per_user(client: Client) -> None:
    alice = await dev_login(client, "앨리스")
    await grant(client, alice, "전지", "scan-a")
    await dev_login(client, "밥")
    assert [c["name"] for c in (await client.get(MINE)).json()] == ["이코"]
