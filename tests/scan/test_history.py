"""History pagination, the user's counters, categories, and account deletion."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.db import count, erased
from tests.scan.conftest import classify


async def test_history_is_mine_newest_first_and_paginated(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    ids = [(await classify(client, words))["task_id"] for words in ("우유팩", "택배 박스", "캔")]
    first = (await client.get("/api/v1/scan/history", params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = (
        await client.get(
            "/api/v1/scan/history", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [s["id"] for s in second["items"]] == [ids[0]]
    assert second["has_more"] is False
    assert second["next_cursor"] is None
    assert first["items"][0]["middle_category"] == "금속류"

    await dev_login(client, "다른사람")
    assert (await client.get("/api/v1/scan/history")).json()["items"] == []
    bad = await client.get("/api/v1/scan/history", params={"cursor": "%%%"})
    assert bad.status_code == 422


async def test_metrics_count_my_scans(client: AsyncTestClient[Litestar], user_id: str) -> None:
    await classify(client, "우유팩")
    await classify(client, "치킨 뼈")
    await classify(client)
    metrics = (await client.get("/api/v1/scan/metrics")).json()
    assert metrics["total"] == 3
    assert metrics["completed"] == 3
    assert metrics["recyclable"] == 1
    assert metrics["rewarded"] == 1
    assert metrics["by_middle_category"]["종이팩"] == 1


async def test_categories_follow_the_taxonomy(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/scan/categories")
    assert response.status_code == 200
    middles = {c["middle_category"] for c in response.json()}
    assert {"무색페트병", "종이팩", "전지", "미분류"} <= middles


async def test_account_deletion_erases_scans(
    client: AsyncTestClient[Litestar], user_id: str, settings: Settings
) -> None:
    await classify(client, "우유팩")
    await classify(client, "캔")
    assert await count(settings, "scan.scans", user_id) == 2
    assert (await client.delete("/api/v1/user/me")).status_code == 204
    await erased(settings, user_id)
    assert await count(settings, "scan.scans", user_id) == 0
