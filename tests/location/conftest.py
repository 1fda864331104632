"""Helpers: places written straight into ``location.sites`` through the import's upsert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from eco2.domains.location import datasets, hours, services
from eco2.domains.location.datasets import ParseResult, SiteRecord
from eco2.domains.location.models import Site
from eco2.platform.db import async_url
from eco2.settings import Settings

SEOUL_CITY_HALL = (37.5662952, 126.9779451)
LAT, LON = SEOUL_CITY_HALL


def site(key: str, lat: float, lon: float, **fields: Any) -> SiteRecord:
    values: dict[str, Any] = {
        "source": "keco",
        "source_key": key,
        "name": f"장소 {key}",
        "latitude": lat,
        "longitude": lon,
        "store_category": "public_dropbox",
        "pickup_categories": ["clear_pet", "can"],
    }
    values.update(fields)
    return SiteRecord(**values)


def north_of(lat: float, metres: float) -> float:
    return lat + metres / 111_195.0


def ring() -> list:
    """Places due north of city hall at 50 m, 300 m, 1.5 km, 3.9 km, 30 km and 80 km."""
    return [
        site("k1", north_of(LAT, 300), LON, name="삼백미터 회수기"),
        site("k2", north_of(LAT, 50), LON, name="오십미터 회수기", phone="02-120-0000",
             road_address="서울 중구 세종대로 110", pickup_categories=["clear_pet", "battery",
             "electronics"], hours=hours.weekly({d: "상시" for d in hours.WEEKDAYS}, []),
             collection_items=["투명페트병", "폐건전지", "투명페트병"]),
        site("k3", north_of(LAT, 1500), LON, name="천오백미터 회수기", collection_items=["", " "],
             introduction="  ", phone="", phones=[""]),
        site("z1", north_of(LAT, 3900), LON, source="zerowaste", name="알맹상점 리필스테이션",
             store_category="refill_zero", pickup_categories=[], memo="리필 세제"),
        site("z2", north_of(LAT, 30_000), LON, source="zerowaste", name="지구카페",
             store_category="cafe_bakery", pickup_categories=[]),
        site("k4", north_of(LAT, 80_000), LON, name="아주 먼 회수기"),
    ]  # fmt: skip


@asynccontextmanager
async def session_for(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the test loop (the app's own pool lives on the test client's loop)."""
    engine = create_async_engine(async_url(settings.database_url or ""))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
            yield session
    finally:
        await engine.dispose()


async def load(settings: Settings, records: list[SiteRecord]) -> dict[str, int]:
    """Import ``records``; returns source_key → id."""
    async with session_for(settings) as session:
        await services.import_parsed(session, ParseResult(records=records, rows=len(records)))
        rows = await session.execute(select(Site.source_key, Site.id))
        return {key: site_id for key, site_id in rows}


async def load_bundled(settings: Settings) -> datasets.ParseResult:
    parsed = datasets.parse(datasets.bundled_files())
    async with session_for(settings) as session:
        await services.import_parsed(session, parsed)
    return parsed
