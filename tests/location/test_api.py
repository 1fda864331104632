"""``/api/v1/locations``: the map contract (§3.12, §7), detail, search, suggest."""

from __future__ import annotations

from datetime import datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.domains.location import hours
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.location.conftest import LAT, LON, load, load_bundled, north_of, ring, site

Client = AsyncTestClient[Litestar]


async def test_requires_sign_in(client: Client) -> None:
    for path in ("centers?lat=37.5&lon=127", "centers/1", "search?q=a", "suggest?q=a"):
        response = await client.get(f"/api/v1/locations/{path}")
        assert response.status_code == 401, path


async def test_centers_bare_array_sorted_with_contract_fields(
    client: Client, user_id: str, settings: Settings
) -> None:
    await load(settings, ring())
    response = await client.get("/api/v1/locations/centers", params={"lat": LAT, "lon": LON})
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    # zoom absent → 13 → 1 km
    assert [e["name"] for e in body] == ["오십미터 회수기", "삼백미터 회수기"]
    first = body[0]
    assert first["distance_text"] == "50m"
    assert first["distance_km"] == pytest.approx(0.05, abs=1e-3)
    assert first["source"] == "keco"
    assert first["road_address"] == "서울 중구 세종대로 110"
    assert first["pickup_categories"] == ["clear_pet", "electronics"]  # no "battery" for the UI
    assert first["latitude"] is not None
    assert first["longitude"] is not None
    assert (first["is_open"], first["is_holiday"]) == (True, False)
    assert (first["start_time"], first["end_time"]) == ("00:00", "24:00")
    assert first["phone"] == "02-120-0000"
    assert len({e["id"] for e in body}) == len(body)
    for key in ("store_category", "place_url", "kakao_place_id", "lot_address"):
        assert key in first


async def test_radius_is_clamped_not_rejected(
    client: Client, user_id: str, settings: Settings
) -> None:
    await load(settings, ring())
    tiny = await client.get(
        "/api/v1/locations/centers", params={"lat": LAT, "lon": LON, "radius": 3}
    )
    assert tiny.status_code == 200
    assert [e["name"] for e in tiny.json()] == ["오십미터 회수기"]  # clamped up to 100 m
    huge = await client.get(
        "/api/v1/locations/centers", params={"lat": LAT, "lon": LON, "radius": 9_000_000}
    )
    assert huge.status_code == 200
    names = [e["name"] for e in huge.json()]
    assert "지구카페" in names
    assert "아주 먼 회수기" not in names
    distances = [e["distance_km"] for e in huge.json()]
    assert distances == sorted(distances)


@pytest.mark.parametrize(("zoom", "expected"), [(15, 1), (13, 2), (11, 4), (9, 4), (7, 5)])
async def test_zoom_sets_the_default_radius(
    client: Client, user_id: str, settings: Settings, zoom: int, expected: int
) -> None:
    await load(settings, ring())
    response = await client.get(
        "/api/v1/locations/centers", params={"lat": LAT, "lon": LON, "zoom": zoom}
    )
    assert response.status_code == 200
    assert len(response.json()) == expected


async def test_filters_run_in_sql_so_the_limit_holds(
    client: Client, user_id: str, settings: Settings
) -> None:
    near = [site(f"n{i}", north_of(LAT, 10 + i), LON) for i in range(120)]
    far_shops = [
        site(f"s{i}", north_of(LAT, 5000 + i), LON, source="zerowaste", name=f"리필 {i}",
             store_category="refill_zero" if i % 2 else "cafe_bakery", pickup_categories=[])
        for i in range(10)
    ]  # fmt: skip
    await load(settings, near + far_shops)
    params = {"lat": LAT, "lon": LON, "zoom": 12, "radius": 10_000}
    everything = await client.get("/api/v1/locations/centers", params=params)
    assert len(everything.json()) == 100  # zoom 12 → limit 100, all of them nearby bins
    shops = await client.get(
        "/api/v1/locations/centers",
        params={**params, "store_category": "refill_zero,cafe_bakery"},
    )
    assert len(shops.json()) == 10
    refill = await client.get(
        "/api/v1/locations/centers", params={**params, "store_category": "refill_zero"}
    )
    assert {e["store_category"] for e in refill.json()} == {"refill_zero"}
    assert len(refill.json()) == 5
    cans = await client.get(
        "/api/v1/locations/centers", params={**params, "pickup_category": "can"}
    )
    assert len(cans.json()) == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "abc", "lon": 127}, "lat"),
        ({"lat": 91, "lon": 127}, "lat"),
        ({"lat": 37.5, "lon": 200}, "lon"),
        ({"lon": 127}, "lat"),
        ({"lat": 37.5, "lon": 127, "zoom": "x"}, "zoom"),
        ({"lat": 37.5, "lon": 127, "store_category": "bakery"}, "store_category"),
        ({"lat": 37.5, "lon": 127, "pickup_category": "gold"}, "pickup_category"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: Client, user_id: str, settings: Settings, params: dict, field: str
) -> None:
    response = await client.get("/api/v1/locations/centers", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_detail(client: Client, user_id: str, settings: Settings) -> None:
    ids = await load(settings, ring())
    response = await client.get(f"/api/v1/locations/centers/{ids['k2']}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "오십미터 회수기"
    assert body["pickup_subcategories"] == ["battery"]
    assert body["hours"]["mon"]["ranges"] == [["00:00", "24:00"]]
    for key in ("lot_address", "store_category", "collection_items", "introduction", "phone"):
        assert key in body
    # The sheet prints collection_items as text and heads every non-null field (contract §7).
    assert body["collection_items"] == "투명페트병, 폐건전지"
    bare = (await client.get(f"/api/v1/locations/centers/{ids['k3']}")).json()
    for key in ("collection_items", "introduction", "phone", "lot_address", "memo", "phones"):
        assert bare[key] is None, key
    assert bare["pickup_categories"] == ["clear_pet", "can"]  # the client calls .length on it
    missing = await client.get("/api/v1/locations/centers/999999")
    assert missing.status_code == 404
    bad = await client.get("/api/v1/locations/centers/abc")
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "id"


async def test_search_and_suggest_on_the_real_data(
    client: Client, user_id: str, settings: Settings
) -> None:
    await load_bundled(settings)
    found = await client.get("/api/v1/locations/search", params={"q": "고양동 종합복지회관"})
    assert found.status_code == 200
    assert found.json()[0]["name"] == "고양동 종합복지회관"
    # Spaces do not matter, items and category words are searchable.
    spaced = await client.get("/api/v1/locations/search", params={"q": "고양동종합 복지회관"})
    assert spaced.json()[0]["name"] == "고양동 종합복지회관"
    batteries = await client.get("/api/v1/locations/search", params={"q": "건전지"})
    sources = {e["source"] for e in batteries.json()}
    assert sources == {"keco", "zerowaste"}  # KECO 폐건전지 points and a shop taking them
    # With a position, nearby matches first and distances filled in.
    near = await client.get(
        "/api/v1/locations/search",
        params={"q": "제로웨이스트", "lat": 37.5313875, "lon": 127.1325739, "radius": 5000},
    )
    entries = near.json()
    assert entries
    assert entries[0]["distance_km"] is not None
    suggest = await client.get("/api/v1/locations/suggest", params={"q": "프릿"})
    assert suggest.status_code == 200
    first = suggest.json()[0]
    assert first == {
        "place_name": "프릿지",
        "address": "서울 강동구 성안로 90 1층 102호 (성내동)",
        "latitude": 37.53138753,
        "longitude": 127.1325739,
        "place_url": "https://place.map.kakao.com/1317010384",
    }


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("search", {}, "q"),
        ("search", {"q": ""}, "q"),
        ("search", {"q": "a" * 101}, "q"),
        ("search", {"q": "캔", "lat": 37.5}, "lon"),
        ("search", {"q": "   "}, "q"),
        ("suggest", {}, "q"),
    ],
)
async def test_search_bad_input(
    client: Client, user_id: str, settings: Settings, path: str, params: dict, field: str
) -> None:
    response = await client.get(f"/api/v1/locations/{path}", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_first_start_imports_the_bundled_data_once(
    base_settings: Settings, client: Client
) -> None:
    from eco2.app import create_app

    settings = base_settings.model_copy(update={"location_import_on_start": True})
    async with AsyncTestClient(create_app(settings=settings)) as fresh:
        await dev_login(fresh)
        response = await fresh.get(
            "/api/v1/locations/centers", params={"lat": 37.7025454, "lon": 126.901133}
        )
        assert response.json()[0]["name"] == "고양동 종합복지회관"


def test_zoom_defaults_cover_the_client_range() -> None:
    from eco2.domains.location.services import zoom_defaults

    assert zoom_defaults(13) == (1000, 100)
    assert zoom_defaults(15) == (250, 50)
    assert zoom_defaults(2)[0] == 50_000
    assert zoom_defaults(99) == zoom_defaults(15)
    assert isinstance(datetime.now(hours.SEOUL).tzinfo, type(hours.SEOUL))
