"""The map query is answered by the earthdistance GiST index, never by a table scan."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from eco2.domains.location import services
from eco2.settings import Settings
from tests.location.conftest import session_for

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


def explain_sql(query: services.CenterQuery) -> str:
    statement = services.centers_statement(query)
    compiled = statement.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return f"EXPLAIN {compiled}"


@pytest.mark.parametrize(
    "filters",
    [{}, {"store_categories": ("refill_zero",)}, {"pickup_categories": ("battery",)}],
)
async def test_centers_use_the_gist_index(settings: Settings, filters: dict) -> None:
    async with session_for(settings) as session:
        await session.execute(text(SYNTHETIC), {"count": 30_000})
        await session.execute(text("ANALYZE location.sites"))
        query = services.CenterQuery(lat=37.5665, lon=126.978, radius_m=2000, limit=100, **filters)
        await session.execute(services.KNN_PLAN)
        plan = "\n".join((await session.execute(text(explain_sql(query)))).scalars())
    assert "Index Scan using ix_sites_earth" in plan, plan
    assert "Order By" in plan, plan  # KNN: rows come out nearest first, no sort
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan
