"""Helpers: places written straight into ``location.sites`` through the import's upsert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from eco2.domains.location import datasets, services
from eco2.domains.location.datasets import ParseResult, SiteRecord
from eco2.domains.location.models import Site
from eco2.platform.db import async_url
from eco2.settings import Settings

SEOUL_CITY_HALL = (37.5662952, 126.9779451)


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
        return {key: site_id for key, site_id in rows.tuples()}


async def load_bundled(settings: Settings) -> datasets.ParseResult:
    parsed = datasets.parse(datasets.bundled_files())
    async with session_for(settings) as session:
        await services.import_parsed(session, parsed)
    return parsed
