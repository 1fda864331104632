"""The map query is an index-only KNN scan of the covering GiST, and it returns exactly what
a brute-force filter over every place returns."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Float, func, literal, select, text
from sqlalchemy.dialects import postgresql

from eco2.domains.location import services
from eco2.domains.location.datasets import SiteRecord
from eco2.domains.location.models import Site
from eco2.settings import Settings
from tests.location.conftest import LAT, LON, load, session_for, site

SYNTHETIC = """
INSERT INTO location.sites (source, source_key, merged_keys, name, latitude, longitude,
    store_category, pickup_categories, collection_items, phones, hours, search_text,
    content_hash, created_at, updated_at)
SELECT 'synthetic', g::text, '{}', 'site ' || g, 33.2 + random() * 5.3, 126.0 + random() * 3.4,
    (ARRAY['refill_zero','cafe_bakery','public_dropbox','general'])[1 + g % 4],
    (CASE g % 3 WHEN 0 THEN '{can,paper}' WHEN 1 THEN '{clear_pet,plastic}'
        ELSE '{battery,electronics}' END)::varchar[],
    '{}', '{}', '{}', 'site' || g, '', now(), now()
FROM generate_series(1, :count) AS g
"""

FILTERS = [
    {},
    {"store_categories": ("refill_zero",)},
    {"pickup_categories": ("battery",)},
    {"store_categories": ("refill_zero", "cafe_bakery"), "pickup_categories": ("can", "glass")},
]


def explain_sql(query: services.CenterQuery) -> str:
    statement = services.centers_statement(query)
    compiled = statement.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return f"EXPLAIN {compiled}"


@pytest.mark.parametrize("radius_m", [2000, services.MAX_RADIUS_M])
@pytest.mark.parametrize("filters", FILTERS)
async def test_centers_are_a_knn_scan_of_the_covering_index(
    settings: Settings, filters: dict, radius_m: int
) -> None:
    """Nearest first, stopped by LIMIT; with filters an index-only scan checks them on index
    tuples and only the returned places are read from the table (by primary key)."""
    async with session_for(settings) as session:
        await session.execute(text(SYNTHETIC), {"count": 30_000})
        await session.execute(text("ANALYZE location.sites"))
        query = services.CenterQuery(LAT, LON, radius_m=radius_m, limit=200, **filters)
        await session.execute(services.KNN_PLAN)
        plan = "\n".join((await session.execute(text(explain_sql(query)))).scalars())
    if filters:
        assert "Index Only Scan using ix_sites_earth_covering" in plan, plan
        assert "Index Scan using pk_sites" in plan, plan
    else:
        assert "Index Scan using ix_sites_earth_covering" in plan, plan
        assert "Sort" not in plan, plan
    assert "Order By" in plan, plan  # KNN: rows come out nearest first, LIMIT stops the scan
    assert "Seq Scan" not in plan, plan
    assert "Bitmap" not in plan, plan


def random_sites(count: int, seed: int) -> list[SiteRecord]:
    """Places within ~6 km of city hall, clustered so a 2 km radius holds more than a limit."""
    rng = random.Random(seed)
    stores = ["refill_zero", "cafe_bakery", "public_dropbox", "general"]
    pickups = [[], ["can"], ["glass", "paper"], ["battery", "can"], ["clear_pet"]]
    return [
        site(
            str(i),
            LAT + rng.gauss(0, 0.02),
            LON + rng.gauss(0, 0.025),
            store_category=rng.choice(stores),
            pickup_categories=rng.choice(pickups),
        )
        for i in range(count)
    ]


async def test_filtered_centers_equal_a_brute_force_filter(settings: Settings) -> None:
    await load(settings, random_sites(3000, seed=3))
    async with session_for(settings) as session:
        origin = func.ll_to_earth(literal(LAT, Float), literal(LON, Float))
        every = await session.execute(
            select(Site.id, Site.store_category, Site.pickup_categories,
                   func.earth_distance(origin, Site.earth))
        )  # fmt: skip
        everything = list(every)
        for radius_m, limit in [(500, 50), (2000, 100), (10_000, 200)]:
            for filters in FILTERS:
                query = services.CenterQuery(LAT, LON, radius_m, limit, **filters)
                stores = set(query.store_categories)
                pickups = set(query.pickup_categories)
                expected = sorted(
                    (distance, site_id)
                    for site_id, store, pickup, distance in everything
                    if distance <= radius_m
                    and (not stores or store in stores)
                    and (not pickups or pickups & set(pickup))
                )[:limit]
                found = await services.find_centers(session, query)
                assert [e.id for e in found] == [site_id for _, site_id in expected], query
                assert [e.distance_km for e in found] == [round(d / 1000, 3) for d, _ in expected]
                assert found, query  # the data leave no case empty
