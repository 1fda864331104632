from __future__ import annotations

from typing import Annotated, Any

import msgspec

Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class CenterEntry(msgspec.Struct):
    """One map entry (contract §3.12 and §7). ``pickup_categories`` keep the client's nine."""

    id: int
    name: str
    source: str
    road_address: str | None
    lot_address: str | None
    latitude: float
    longitude: float
    distance_km: float | None
    distance_text: str | None
    store_category: str
    pickup_categories: list[str]
    phone: str | None
    place_url: str | None
    kakao_place_id: str | None
    is_open: bool | None
    is_holiday: bool | None
    start_time: str | None
    end_time: str | None


class DayHours(msgspec.Struct):
    status: str
    ranges: list[list[str]]
    note: str | None = None


class CenterDetail(CenterEntry):
    """``GET /locations/centers/{id}``: the entry plus everything the detail sheet can show.

    The sheet shows a heading for any field that is not null (contract §7), so nothing is
    sent empty: a blank text, an empty list or no hours is ``null``. ``collection_items`` is
    one line of text ("투명페트병, 캔"), as the client prints it.
    """

    pickup_subcategories: list[str] | None = None
    collection_items: str | None = None
    introduction: str | None = None
    memo: str | None = None
    location_note: str | None = None
    region: str | None = None
    phones: list[str] | None = None
    homepage: str | None = None
    hours: dict[str, DayHours] | None = None


class Suggestion(msgspec.Struct):
    place_name: str
    address: str | None
    latitude: float
    longitude: float
    place_url: str | None


class NearestRequest(msgspec.Struct, forbid_unknown_fields=True):
    """What another domain asks (chat: "where can I drop batteries near me?")."""

    latitude: Latitude
    longitude: Longitude
    pickup_category: str | None = None
    store_category: str | None = None
    radius_m: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 5000
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5


class NearestResult(msgspec.Struct):
    sites: list[CenterEntry]


class ImportReport(msgspec.Struct):
    rows: int
    imported: int
    updated: int
    unchanged: int
    merged: int
    skipped: dict[str, int]
    skipped_rows: list[dict[str, Any]] = []
