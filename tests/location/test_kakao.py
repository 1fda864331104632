"""Place search with Kakao Local (contract §7): a fake Kakao on 127.0.0.1 speaking its keyword
and address search; merged after ours, by distance with a position; Kakao failing or slow
leaves ours."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.kakao_local import KEY, FakeKakaoLocal, fake_kakao_local
from tests.fakes.live import client_for
from tests.location.conftest import load_bundled

Client = AsyncTestClient[Litestar]
GANGNAM = (37.4979, 127.0276)  # a block from 강남역


@pytest.fixture(scope="module")
def kakao() -> Iterator[FakeKakaoLocal]:
    with fake_kakao_local() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _healthy(kakao: FakeKakaoLocal) -> Iterator[None]:
    kakao.requests.clear()
    yield
    kakao.status, kakao.delay = 200, 0.0


@pytest.fixture
def settings(base_settings: Settings, kakao: FakeKakaoLocal) -> Settings:
    return base_settings.model_copy(
        update={
            "kakao_rest_api_key": KEY,
            "kakao_local_url": kakao.url,
            "kakao_timeout_seconds": 1.0,
        }
    )


async def search(client: Client, path: str, **params: object) -> list[dict[str, object]]:
    response = await client.get(f"/api/v1/locations/{path}", params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


async def test_stations_come_from_kakao(
    client: Client, user_id: str, kakao: FakeKakaoLocal
) -> None:
    found = await search(client, "search", q="강남역", radius=5000)  # as the client asks
    assert [e["name"] for e in found] == ["강남역 2호선", "강남역 신분당선"]
    first = found[0]
    assert first["source"] == "kakao"
    assert first["id"] == -21160804  # unique across sources: ours are positive
    assert first["kakao_place_id"] == "21160804"
    assert first["place_url"] == "https://place.map.kakao.com/21160804"
    assert first["road_address"] == "서울 강남구 강남대로 396"
    assert (first["latitude"], first["longitude"]) == (37.49808633653005, 127.02800140627488)
    assert first["distance_text"] is None  # no position: country-wide
    assert first["store_category"] == "general"
    assert first["pickup_categories"] == []
    params = kakao.calls("keyword.json")[-1]
    assert params == {"query": "강남역", "size": "15"}  # no position: no x/y/radius
    assert kakao.requests[-1][2] == f"KakaoAK {KEY}"
    suggested = await search(client, "suggest", q="서울역")
    assert suggested[0] == {
        "place_name": "서울역 1호선",
        "address": "서울 중구 한강대로 지하 405",
        "latitude": 37.55599162901061,
        "longitude": 126.97232991186962,
        "place_url": "https://place.map.kakao.com/9113903",
    }


async def test_ours_first_and_kakao_copies_of_ours_dropped(
    client: Client, user_id: str, settings: Settings
) -> None:
    await load_bundled(settings)
    found = await search(client, "search", q="프릿지")
    assert found[0]["name"] == "프릿지"
    assert found[0]["source"] == "zerowaste"  # ours, with our details
    assert [e["source"] for e in found].count("kakao") == 1  # the pop-up; Kakao's 프릿지 is ours
    assert found[-1]["name"] == "프릿지 리필스테이션 팝업"
    suggested = await search(client, "suggest", q="프릿지")
    assert [s["place_name"] for s in suggested] == ["프릿지", "프릿지 리필스테이션 팝업"]


async def test_with_a_position_everything_within_the_radius_closest_first(
    client: Client, user_id: str, settings: Settings, kakao: FakeKakaoLocal
) -> None:
    await load_bundled(settings)
    lat, lon = GANGNAM
    found = await search(client, "search", q="강남", lat=lat, lon=lon, radius=1500)
    distances = [e["distance_km"] for e in found]
    assert distances == sorted(distances)  # type: ignore[type-var]
    assert all(isinstance(d, float) and d <= 1.5 for d in distances)
    assert {e["source"] for e in found} == {"kakao", "zerowaste"}  # 더바디샵 강남대로점
    assert found[0]["name"] == "강남역 2호선"
    assert found[0]["distance_text"] == "41m"
    params = kakao.calls("keyword.json")[-1]
    assert params["x"] == str(lon)
    assert params["y"] == str(lat)
    assert (params["radius"], params["sort"]) == ("1500", "distance")
    # Our places match by text but lie beyond the radius: not shown.
    far = await search(client, "search", q="프릿지", lat=lat, lon=lon, radius=1000)
    assert far == []


async def test_addresses_are_found(client: Client, user_id: str) -> None:
    found = await search(client, "search", q="서울 강남구 테헤란로 152")
    assert found[0]["name"] == "서울 강남구 테헤란로 152 강남파이낸스센터"
    assert found[0]["lot_address"] == "서울 강남구 역삼동 737"
    assert found[0]["source"] == "kakao"
    assert isinstance(found[0]["id"], int)
    assert found[0]["id"] < -(1 << 50)
    suggested = await search(client, "suggest", q="테헤란로 152")
    assert suggested[0]["address"] == "서울 강남구 테헤란로 152"
    assert suggested[0]["place_url"] is None


@pytest.mark.parametrize("failure", ["status", "slow", "key"])
async def test_kakao_failing_leaves_ours(
    base_settings: Settings, kakao: FakeKakaoLocal, settings: Settings, failure: str
) -> None:
    if failure == "status":
        kakao.status = 500
    elif failure == "slow":
        kakao.delay = 3.0
    configured = settings
    if failure == "key":
        configured = settings.model_copy(update={"kakao_rest_api_key": "wrong"})
    await load_bundled(settings)
    async with client_for(configured) as client:
        await dev_login(client)
        started = time.monotonic()
        found = await search(client, "search", q="프릿지")
        assert time.monotonic() - started < 2.5  # the Kakao timeout is 1 s
    assert [e["source"] for e in found] == ["zerowaste"]


async def test_answers_are_cached(client: Client, user_id: str, kakao: FakeKakaoLocal) -> None:
    for _ in range(3):
        await search(client, "suggest", q="강남역")
    assert len(kakao.calls("keyword.json")) == 1
    assert len(kakao.calls("address.json")) == 1


async def test_without_a_key_only_ours(
    base_settings: Settings, kakao: FakeKakaoLocal, settings: Settings
) -> None:
    await load_bundled(settings)
    async with client_for(base_settings) as client:
        await dev_login(client)
        assert await search(client, "search", q="강남역") == []
        assert await search(client, "suggest", q="서울역") == []
        found = await search(client, "search", q="프릿지")
    assert [e["source"] for e in found] == ["zerowaste"]
    assert kakao.requests == []


async def test_our_data_finds_stations_its_location_notes_name(
    client: Client, user_id: str, settings: Settings, base_settings: Settings
) -> None:
    await load_bundled(settings)
    async with client_for(base_settings) as ours_only:
        await dev_login(ours_only)
        found = await search(ours_only, "search", q="판교역")
    assert found
    assert all(e["source"] == "keco" for e in found)
    assert "판교" in str(found[0]["name"]).lower()
