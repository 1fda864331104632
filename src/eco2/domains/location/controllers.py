"""``/api/v1/locations``: the map (contract §3.12, §7), search, suggestions, the internal port."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from eco2.domains.location import categories, services
from eco2.domains.location.deps import Locations
from eco2.domains.location.schemas import (
    CenterDetail,
    CenterEntry,
    NearestRequest,
    NearestResult,
    Suggestion,
)
from eco2.platform.errors import InvalidInput
from eco2.platform.internal import internal_router
from eco2.registry import API

Lat = Annotated[float, QueryParameter(ge=-90, le=90, description="위도 (WGS84)")]
Lon = Annotated[float, QueryParameter(ge=-180, le=180, description="경도 (WGS84)")]
Query = Annotated[str, QueryParameter(min_length=1, max_length=100, description="검색어")]


@get("/centers", summary="Places near a point, closest first (bare array)")
async def centers(
    locations: Locations,
    lat: Lat,
    lon: Lon,
    radius: FromQuery[float | None] = None,
    zoom: FromQuery[int | None] = None,
    store_category: FromQuery[str | None] = None,
    pickup_category: FromQuery[str | None] = None,
) -> list[CenterEntry]:
    default_radius, limit = services.zoom_defaults(zoom)
    query = services.CenterQuery(
        lat=lat,
        lon=lon,
        radius_m=services.clamp_radius(radius) if radius is not None else default_radius,
        limit=limit,
        store_categories=services.parse_choices(
            store_category, categories.STORE_CATEGORIES, "store_category"
        ),
        pickup_categories=services.parse_choices(
            pickup_category, categories.SITE_PICKUP, "pickup_category"
        ),
    )
    return await locations.centers(query)


@get("/centers/{site_id:str}", summary="One place in full")
async def center_detail(locations: Locations, site_id: FromPath[str]) -> CenterDetail:
    return await locations.detail(site_id)


@get("/search", summary="Search by name, address or item (and Kakao Local with a key)")
async def search(
    locations: Locations,
    q: Query,
    lat: Annotated[float | None, QueryParameter(ge=-90, le=90)] = None,
    lon: Annotated[float | None, QueryParameter(ge=-180, le=180)] = None,
    radius: FromQuery[float | None] = None,
) -> list[CenterEntry]:
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(
            "위도와 경도는 함께 보내 주세요.", code="missing_coordinate", field=missing
        )
    radius_m = services.clamp_radius(radius) if radius is not None else services.SEARCH_RADIUS_M
    return await locations.search(q, lat, lon, radius_m)


@get("/suggest", summary="Autocomplete for the search box")
async def suggest(locations: Locations, q: Query) -> list[Suggestion]:
    return await locations.suggest(q)


@post("/nearest", status_code=200)
async def nearest(data: JSONBody[NearestRequest], locations: Locations) -> NearestResult:
    return NearestResult(sites=await locations.nearest(data))


internal = internal_router("location", [nearest])

public = Router(
    f"{API}/locations",
    route_handlers=[centers, center_detail, search, suggest],
    tags=["location"],
)

route_handlers = [public, internal]
