"""``/api/v1/info``: item search, item detail with rules, the taxonomy. Public routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_search_ranks_items_with_their_category(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/info/items", params={"q": "택배 박스"})
    assert response.status_code == 200
    results = response.json()
    assert results[0]["id"] == "cardboard_box"
    assert results[0]["major_category"] == "재활용폐기물"
    assert results[0]["middle_category"] == "종이"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


async def test_hard_cases(client: AsyncTestClient[Litestar]) -> None:
    for query, middle in (("영수증", "일반종량제폐기물"), ("보조배터리", "전지")):
        best = (await client.get("/api/v1/info/items", params={"q": query})).json()[0]
        assert best["middle_category"] == middle, query


async def test_browse_and_filter(client: AsyncTestClient[Litestar]) -> None:
    listed = (
        await client.get("/api/v1/info/items", params={"middle_category": "전지", "limit": 5})
    ).json()
    assert 0 < len(listed) <= 5
    assert {r["middle_category"] for r in listed} == {"전지"}


async def test_item_detail_carries_its_rules(client: AsyncTestClient[Litestar]) -> None:
    detail = (await client.get("/api/v1/info/items/milk_carton")).json()
    assert detail["item"]["name"] == "우유팩"
    assert detail["rules"]["middle"] == "종이팩"
    assert detail["rules"]["common_steps"]
    missing = await client.get("/api/v1/info/items/no_such_item")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "item_not_found"


async def test_categories_tree(client: AsyncTestClient[Litestar]) -> None:
    tree = (await client.get("/api/v1/info/categories")).json()
    recyclable = next(m for m in tree if m["name"] == "재활용폐기물")
    assert recyclable["recyclable"] is True
    assert len(recyclable["middle_categories"]) == 12
    assert all(m["minor_categories"] for m in recyclable["middle_categories"])
