"""Kakao Local (keyword and address search), for places our own data does not have: stations,
landmarks, any shop, any address. Asked only with ``ECO2_KAKAO_REST_API_KEY``; answers are
cached briefly (autocomplete asks the same prefixes again and again) and a failure or a slow
answer degrades to our own results.

API: ``GET {base}/v2/local/search/keyword.json?query&x&y&radius&size&sort`` and
``GET {base}/v2/local/search/address.json?query&size``, header ``Authorization: KakaoAK <key>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import zlib
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from eco2.domains.location import geo
from eco2.domains.location.schemas import CenterEntry, Suggestion
from eco2.settings import Settings

log = structlog.get_logger(__name__)

MAX_KAKAO_RADIUS_M = 20_000  # the API's limit
PLACES_PER_QUERY = 15  # the API's page size limit
SAME_PLACE_M = 100  # a Kakao place this close to one of ours with the same name is ours
ADDRESS_ID_BASE = 1 << 50  # address hits have no Kakao id: -(base + crc32), never a place's
SOURCE = "kakao"
STORE_CATEGORY = "general"  # the client's 기타: Kakao places are not in our categories


class Place(msgspec.Struct, frozen=True):
    """A ``documents`` entry of the keyword search."""

    id: str
    place_name: str
    x: str
    y: str
    address_name: str = ""
    road_address_name: str = ""
    phone: str = ""
    place_url: str = ""
    category_name: str = ""


class _Named(msgspec.Struct, frozen=True):
    address_name: str = ""
    building_name: str = ""


class Address(msgspec.Struct, frozen=True):
    """A ``documents`` entry of the address search (a region, a road or a lot address)."""

    address_name: str
    x: str
    y: str
    road_address: _Named | None = None
    address: _Named | None = None


class _Places(msgspec.Struct):
    documents: list[Place]


class _Addresses(msgspec.Struct):
    documents: list[Address]


class KakaoUnavailable(Exception):
    pass


class KakaoLocal:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        self._key = settings.kakao_rest_api_key or ""
        self._base = settings.kakao_local_url.rstrip("/")
        self._timeout = settings.kakao_timeout_seconds
        self._cache_seconds = settings.kakao_cache_seconds
        self._http, self._redis = http, redis

    async def places(
        self, query: str, origin: tuple[float, float] | None, radius_m: int
    ) -> list[Place]:
        """Keyword search: best matches country-wide, or the closest within ``radius_m``."""
        params: dict[str, Any] = {"query": query, "size": PLACES_PER_QUERY}
        if origin is not None:
            params.update(
                y=origin[0],
                x=origin[1],
                radius=min(radius_m, MAX_KAKAO_RADIUS_M),
                sort="distance",
            )
        body = await self._get("/v2/local/search/keyword.json", params)
        return msgspec.json.decode(body, type=_Places).documents

    async def addresses(self, query: str) -> list[Address]:
        body = await self._get("/v2/local/search/address.json", {"query": query, "size": 10})
        return msgspec.json.decode(body, type=_Addresses).documents

    async def _get(self, path: str, params: dict[str, Any]) -> bytes:
        key = (
            "kakao:local:" + hashlib.sha256(f"{path}?{sorted(params.items())}".encode()).hexdigest()
        )
        cached = await self._cached(key)
        if cached is not None:
            return cached
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.get(
                    f"{self._base}{path}",
                    params=params,
                    headers={"Authorization": f"KakaoAK {self._key}"},
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            raise KakaoUnavailable(f"{path}: {exc!r}") from exc
        if response.status_code != 200:
            raise KakaoUnavailable(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        await self._store(key, response.content)
        return response.content

    async def _cached(self, key: str) -> bytes | None:
        try:
            found = await self._redis.get(key)
        except RedisError:
            return None
        return found if isinstance(found, bytes) else None

    async def _store(self, key: str, body: bytes) -> None:
        with contextlib.suppress(RedisError):  # not cached: asked again next time, that is all
            await self._redis.set(key, body, ex=self._cache_seconds)


async def search_kakao(
    kakao: KakaoLocal | None, query: str, origin: tuple[float, float] | None, radius_m: int
) -> tuple[list[Place], list[Address]]:
    """Places and addresses for ``query``; none without a key, none of a kind Kakao failed."""
    if kakao is None:
        return [], []
    places, addresses = await asyncio.gather(
        kakao.places(query, origin, radius_m), kakao.addresses(query), return_exceptions=True
    )
    for failed in (places, addresses):
        if isinstance(failed, BaseException):
            if not isinstance(failed, KakaoUnavailable | msgspec.DecodeError):
                raise failed
            log.warning("kakao_local_failed", error=str(failed)[:300])
    return (
        places if isinstance(places, list) else [],
        addresses if isinstance(addresses, list) else [],
    )


# --- our answer shapes ----------------------------------------------------------------------


def _position(raw_lat: str, raw_lon: str) -> tuple[float, float] | None:
    try:
        lat, lon = float(raw_lat), float(raw_lon)
    except ValueError:
        return None
    return (lat, lon) if geo.in_korea(lat, lon) else None


def _https(url: str) -> str | None:
    """Kakao hands out ``http://place.map.kakao.com/...``; the same page is served over https."""
    if not url:
        return None
    return "https://" + url.removeprefix("http://") if url.startswith("http://") else url


def _entry(
    entry_id: int,
    name: str,
    road: str | None,
    lot: str | None,
    at: tuple[float, float],
    origin: tuple[float, float] | None,
    *,
    phone: str | None = None,
    place_url: str | None = None,
    kakao_place_id: str | None = None,
) -> CenterEntry:
    distance = geo.distance_m(*origin, *at) if origin is not None else None
    return CenterEntry(
        id=entry_id,
        name=name,
        source=SOURCE,
        road_address=road or lot,
        lot_address=lot or None,
        latitude=at[0],
        longitude=at[1],
        distance_km=round(distance / 1000, 3) if distance is not None else None,
        distance_text=geo.distance_text(distance) if distance is not None else None,
        store_category=STORE_CATEGORY,
        pickup_categories=[],
        phone=phone or None,
        place_url=place_url,
        kakao_place_id=kakao_place_id,
        is_open=None,
        is_holiday=None,
        start_time=None,
        end_time=None,
    )


def place_entries(places: Sequence[Place], origin: tuple[float, float] | None) -> list[CenterEntry]:
    """Kakao places as map entries: ``id`` is minus Kakao's id (ours are positive, so ids stay
    unique across sources), ``source`` is ``kakao``."""
    entries = []
    for place in places:
        at = _position(place.y, place.x)
        if at is None or not place.id.isdigit():
            continue
        entries.append(
            _entry(
                -int(place.id),
                place.place_name,
                place.road_address_name or None,
                place.address_name or None,
                at,
                origin,
                phone=place.phone,
                place_url=_https(place.place_url),
                kakao_place_id=place.id,
            )
        )
    return entries


def _address_name(found: Address) -> str:
    road = found.road_address
    if road and road.address_name:
        return f"{road.address_name} {road.building_name}".strip()
    return found.address_name


def address_entries(
    addresses: Sequence[Address], origin: tuple[float, float] | None
) -> list[CenterEntry]:
    entries = []
    for found in addresses:
        at = _position(found.y, found.x)
        if at is None:
            continue
        road = found.road_address.address_name if found.road_address else None
        lot = found.address.address_name if found.address else found.address_name
        entry_id = -(ADDRESS_ID_BASE + zlib.crc32(found.address_name.encode()))
        entries.append(_entry(entry_id, _address_name(found), road, lot, at, origin))
    return entries


def _same_place(ours: CenterEntry, theirs: CenterEntry) -> bool:
    if theirs.kakao_place_id and ours.kakao_place_id == theirs.kakao_place_id:
        return True
    close = geo.distance_m(ours.latitude, ours.longitude, theirs.latitude, theirs.longitude)
    squash = str.maketrans("", "", " ")
    return close <= SAME_PLACE_M and ours.name.translate(squash) == theirs.name.translate(squash)


def merge_entries(
    ours: Sequence[CenterEntry],
    theirs: Sequence[CenterEntry],
    origin: tuple[float, float] | None,
    radius_m: int,
    limit: int,
) -> list[CenterEntry]:
    """Ours, then Kakao's that are not ours; with a position, only those within ``radius_m``,
    closest first (ours first at equal distance)."""
    extra = [t for t in theirs if not any(_same_place(o, t) for o in ours)]
    merged = [*ours, *extra]
    if origin is None:
        return merged[:limit]
    near = [e for e in merged if e.distance_km is not None and e.distance_km * 1000 <= radius_m]
    near.sort(key=lambda e: (e.distance_km or 0.0, e.source == SOURCE))
    return near[:limit]


def suggestions(entries: Sequence[CenterEntry]) -> list[Suggestion]:
    return [
        Suggestion(
            place_name=e.name,
            address=e.road_address or e.lot_address,
            latitude=e.latitude,
            longitude=e.longitude,
            place_url=e.place_url,
        )
        for e in entries
    ]
