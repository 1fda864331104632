"""A fake Kakao Local API on 127.0.0.1: keyword and address search in Kakao's shapes.

``GET /v2/local/search/keyword.json?query&x&y&radius&size&sort`` and
``GET /v2/local/search/address.json?query&size``, header ``Authorization: KakaoAK <key>``
(else Kakao's 401 ``AccessDeniedError``). Places are a small fixed list; a query matches a place
whose name contains it (spaces ignored); with x/y only places within ``radius`` match, and
``distance`` is filled in as Kakao does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get

from tests.fakes.live import serve_fake

KEY = "kakao-rest-test-key"

PLACES: list[dict[str, str]] = [
    {
        "id": "21160804",
        "place_name": "강남역 2호선",
        "category_name": "교통,수송 > 지하철,전철 > 수도권2호선",
        "category_group_code": "SW8",
        "category_group_name": "지하철역",
        "phone": "02-6110-2221",
        "address_name": "서울 강남구 역삼동 858",
        "road_address_name": "서울 강남구 강남대로 396",
        "x": "127.02800140627488",
        "y": "37.49808633653005",
        "place_url": "http://place.map.kakao.com/21160804",
    },
    {
        "id": "21160805",
        "place_name": "강남역 신분당선",
        "category_name": "교통,수송 > 지하철,전철 > 신분당선",
        "category_group_code": "SW8",
        "category_group_name": "지하철역",
        "phone": "031-8018-7777",
        "address_name": "서울 강남구 역삼동 858",
        "road_address_name": "서울 강남구 강남대로 지하 396",
        "x": "127.02820262547",
        "y": "37.4970551016587",
        "place_url": "http://place.map.kakao.com/21160805",
    },
    {
        "id": "9113903",
        "place_name": "서울역 1호선",
        "category_name": "교통,수송 > 지하철,전철 > 수도권1호선",
        "category_group_code": "SW8",
        "category_group_name": "지하철역",
        "phone": "02-6110-1331",
        "address_name": "서울 중구 봉래동2가 122-21",
        "road_address_name": "서울 중구 한강대로 지하 405",
        "x": "126.97232991186962",
        "y": "37.55599162901061",
        "place_url": "http://place.map.kakao.com/9113903",
    },
    {
        # One of our own places (the zero-waste map's 프릿지, same Kakao id): merged away.
        "id": "1317010384",
        "place_name": "프릿지",
        "category_name": "가정,생활 > 생활용품점",
        "category_group_code": "",
        "category_group_name": "",
        "phone": "",
        "address_name": "서울 강동구 성내동 448-11",
        "road_address_name": "서울 강동구 성안로 90",
        "x": "127.1325739",
        "y": "37.53138753",
        "place_url": "http://place.map.kakao.com/1317010384",
    },
    {
        "id": "2024000001",
        "place_name": "프릿지 리필스테이션 팝업",
        "category_name": "가정,생활 > 생활용품점",
        "category_group_code": "",
        "category_group_name": "",
        "phone": "",
        "address_name": "서울 송파구 잠실동 40-1",
        "road_address_name": "서울 송파구 올림픽로 240",
        "x": "127.0980",
        "y": "37.5110",
        "place_url": "http://place.map.kakao.com/2024000001",
    },
]

ADDRESSES: list[dict[str, Any]] = [
    {
        "address_name": "서울 강남구 테헤란로 152",
        "address_type": "ROAD_ADDR",
        "x": "127.036508620542",
        "y": "37.5000242405515",
        "address": {
            "address_name": "서울 강남구 역삼동 737",
            "region_1depth_name": "서울",
            "region_2depth_name": "강남구",
            "region_3depth_name": "역삼동",
            "mountain_yn": "N",
            "main_address_no": "737",
            "sub_address_no": "",
            "x": "127.036508620542",
            "y": "37.5000242405515",
        },
        "road_address": {
            "address_name": "서울 강남구 테헤란로 152",
            "region_1depth_name": "서울",
            "region_2depth_name": "강남구",
            "region_3depth_name": "역삼동",
            "road_name": "테헤란로",
            "underground_yn": "N",
            "main_building_no": "152",
            "sub_building_no": "",
            "building_name": "강남파이낸스센터",
            "zone_no": "06236",
            "x": "127.036508620542",
            "y": "37.5000242405515",
        },
    }
]


def _squash(text: str) -> str:
    return "".join(text.split())


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371000 * math.asin(math.sqrt(h))


@dataclass
class FakeKakaoLocal:
    url: str = ""
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    status: int = 200  # a failing Kakao answers this
    delay: float = 0.0

    def calls(self, path: str) -> list[dict[str, str]]:
        return [params for p, params, _ in self.requests if p.endswith(path)]


def _meta(documents: list[Any]) -> dict[str, Any]:
    return {"total_count": len(documents), "pageable_count": len(documents), "is_end": True}


def app_for(fake: FakeKakaoLocal) -> Litestar:
    async def guard(request: Request[Any, Any, Any]) -> Response[Any] | None:
        params = dict(request.query_params)
        auth = request.headers.get("authorization", "")
        fake.requests.append((request.url.path, params, auth))
        if fake.delay:
            await asyncio.sleep(fake.delay)
        if auth != f"KakaoAK {KEY}":
            body = {"errorType": "AccessDeniedError", "message": "wrong appKey(x) format"}
            return Response(body, status_code=401)
        if fake.status != 200:
            return Response({"errorType": "InternalError", "message": "x"}, status_code=fake.status)
        if not params.get("query"):
            body = {"errorType": "MissingParameter", "message": "query parameter required"}
            return Response(body, status_code=400)
        return None

    @get("/v2/local/search/keyword.json")
    async def keyword(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request)
        if refused is not None:
            return refused
        params = dict(request.query_params)
        query = _squash(params["query"])
        found = [dict(p, distance="") for p in PLACES if query in _squash(p["place_name"])]
        if "x" in params and "y" in params:
            x, y = float(params["x"]), float(params["y"])
            radius = float(params.get("radius", 20000))
            for place in found:
                place["distance"] = str(round(_metres(y, x, float(place["y"]), float(place["x"]))))
            found = [p for p in found if float(p["distance"]) <= radius]
            if params.get("sort") == "distance":
                found.sort(key=lambda p: float(p["distance"]))
        found = found[: int(params.get("size", 15))]
        meta = {
            **_meta(found),
            "same_name": {"region": [], "keyword": query, "selected_region": ""},
        }
        return Response({"meta": meta, "documents": found})

    @get("/v2/local/search/address.json")
    async def address(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request)
        if refused is not None:
            return refused
        query = _squash(dict(request.query_params)["query"])
        found = [a for a in ADDRESSES if query in _squash(a["address_name"])]
        return Response({"meta": _meta(found), "documents": found})

    return Litestar([keyword, address], debug=False)


def fake_kakao_local() -> contextlib.AbstractContextManager[FakeKakaoLocal]:
    return serve_fake(FakeKakaoLocal(), app_for)
