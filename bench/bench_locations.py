"""Map query latency on 1,000,000 synthetic sites, and the import rate of the real datasets.

Loads the sites (COPY) into a scratch database on the configured PostgreSQL
(``ECO2_DATABASE_URL``; default: an embedded server in a temporary directory), migrated with
the project's own migrations, then times ``centers`` queries exactly as the endpoint builds
them, at 500 m, 2 km and 10 km, with and without category filters.

    python bench/bench_locations.py [--sites 1000000] [--queries 300] [--keep]

Target: p95 <= 10 ms at 2 km.

Before/after the covering map index (main at c6d2cd3 is "before"; the same seeded sites,
one run after the other)::

    git worktree add --detach /tmp/before c6d2cd3
    flock /tmp/eco2-bench.lock sh -c 'PYTHONPATH=/tmp/before/src .venv/bin/python \
        /tmp/before/bench/bench_locations.py && .venv/bin/python bench/bench_locations.py'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from eco2.domains.location import datasets, services
from eco2.migrate import upgrade
from eco2.platform.db import async_url
from eco2.settings import Settings

SCRATCH_DB = "eco2_bench_locations"
# (lat, lon, weight, spread in km): where people, and so shops and bins, are.
CITIES = [
    (37.5665, 126.9780, 30, 12),  # Seoul
    (37.4563, 126.7052, 8, 10),  # Incheon
    (37.2636, 127.0286, 8, 10),  # Suwon / Gyeonggi south
    (37.6584, 126.8320, 5, 8),  # Goyang
    (35.1796, 129.0756, 10, 10),  # Busan
    (35.8714, 128.6014, 7, 9),  # Daegu
    (36.3504, 127.3845, 4, 8),  # Daejeon
    (35.1595, 126.8526, 4, 8),  # Gwangju
    (35.5384, 129.3114, 3, 8),  # Ulsan
    (36.6424, 127.4890, 2, 7),  # Cheongju
    (35.8242, 127.1480, 2, 7),  # Jeonju
    (35.2281, 128.6811, 3, 8),  # Changwon
    (33.4996, 126.5312, 2, 8),  # Jeju
]
STORE = ["refill_zero", "cafe_bakery", "vegan_dining", "upcycle_recycle", "book_workshop",
         "market_mart", "lodging", "public_dropbox", "general"]  # fmt: skip
PICKUP = [
    ["clear_pet", "can"],
    ["paper", "plastic"],
    ["glass", "textile"],
    ["electronics", "battery"],
    ["general", "vinyl"],
    ["clear_pet", "colored_pet", "can"],
]
COLUMNS = ("source", "source_key", "merged_keys", "name", "latitude", "longitude",
           "store_category", "pickup_categories", "collection_items", "phones", "hours",
           "search_text", "content_hash", "created_at", "updated_at")  # fmt: skip
# radius → the limit the endpoint uses at the matching zoom
RADII = {500: 50, 2000: 100, 10_000: 200}
FILTERS = {
    "none": {},
    "store=refill_zero": {"store_categories": ("refill_zero",)},
    "pickup=battery": {"pickup_categories": ("battery",)},
    "store+pickup": {"store_categories": ("refill_zero", "cafe_bakery"),
                     "pickup_categories": ("can",)},
}  # fmt: skip


def city_point(rng: random.Random) -> tuple[float, float]:
    lat, lon, _, spread = rng.choices(CITIES, weights=[c[2] for c in CITIES])[0]
    return lat + rng.gauss(0, spread / 111.0), lon + rng.gauss(0, spread / 88.0)


def synthetic_point(rng: random.Random) -> tuple[float, float]:
    """70 % around cities, 30 % anywhere on the peninsula's bounding box."""
    if rng.random() < 0.7:
        return city_point(rng)
    return rng.uniform(34.3, 38.3), rng.uniform(126.1, 129.4)


def records(count: int, seed: int = 7) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for i in range(count):
        lat, lon = synthetic_point(rng)
        yield ("bench", str(i), [], f"site {i}", lat, lon, rng.choice(STORE), rng.choice(PICKUP),
               [], [], "{}", f"site{i}", "", now, now)  # fmt: skip


def database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def create_scratch(base_url: str) -> str:
    admin = await asyncpg.connect(plain(base_url))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        await admin.execute(f"CREATE DATABASE {SCRATCH_DB}")
    finally:
        await admin.close()
    return database_url(base_url, SCRATCH_DB)


async def drop_scratch(base_url: str) -> None:
    admin = await asyncpg.connect(plain(base_url))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
    finally:
        await admin.close()


SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'location' AND tablename = 'sites'
  AND indexname NOT IN (SELECT conname FROM pg_constraint)
"""


async def load_sites(url: str, count: int) -> dict[str, float]:
    """COPY, then build the migrated schema's secondary indexes (as the migrations define
    them) on the loaded table: faster than maintaining them row by row."""
    conn = await asyncpg.connect(plain(url))
    try:
        indexes = await conn.fetch(SECONDARY_INDEXES)
        for index in indexes:
            await conn.execute(f"DROP INDEX location.{index['indexname']}")
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "sites", schema_name="location", columns=COLUMNS, records=records(count)
        )
        copied = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        indexed = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE location.sites")
    finally:
        await conn.close()
    return {"copy_s": copied, "index_s": indexed}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def literal_sql(query: services.CenterQuery) -> str:
    statement = services.centers_statement(query)
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


async def time_queries(url: str, queries: int) -> list[tuple[str, int, float, float, float, float]]:
    """Per configuration: p50/p95 of the service call (SQL + rows → entries, as the endpoint
    runs it) and p95 of the bare SQL on asyncpg (the database's share)."""
    engine = create_async_engine(async_url(url), pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    raw = await asyncpg.connect(plain(url))
    # Same planner settings as the service, for the whole (autocommit) connection.
    await raw.execute("SET enable_bitmapscan = off; SET enable_seqscan = off")
    rng = random.Random(11)
    points = [city_point(rng) for _ in range(queries)]
    results = []
    try:
        async with sessions() as session:
            for radius, limit in RADII.items():
                for label, filters in FILTERS.items():
                    samples, sql_samples, found = [], [], 0
                    for i, (lat, lon) in enumerate([*points[:20], *points]):
                        query = services.CenterQuery(lat, lon, radius, limit, **filters)
                        started = time.perf_counter()
                        rows = await services.find_centers(session, query)
                        elapsed = (time.perf_counter() - started) * 1000
                        sql = literal_sql(query)
                        started = time.perf_counter()
                        await raw.fetch(sql)
                        sql_elapsed = (time.perf_counter() - started) * 1000
                        if i >= 20:  # the first 20 warm the cache
                            samples.append(elapsed)
                            sql_samples.append(sql_elapsed)
                            found += len(rows)
                    results.append((label, radius, percentile(samples, 0.5),
                                    percentile(samples, 0.95), percentile(sql_samples, 0.95),
                                    found / len(samples)))  # fmt: skip
    finally:
        await raw.close()
        await engine.dispose()
    return results


async def import_rate(url: str) -> dict[str, float]:
    started = time.perf_counter()
    parsed = datasets.parse(datasets.bundled_files())
    parse_s = time.perf_counter() - started
    engine = create_async_engine(async_url(url))
    timings = {"rows": float(parsed.rows), "parse_s": parse_s}
    try:
        for run in ("first", "second"):
            started = time.perf_counter()
            async with async_sessionmaker(engine).begin() as session:
                report = await services.import_parsed(session, parsed)
            timings[f"{run}_upsert_s"] = time.perf_counter() - started
            timings[f"{run}_imported"] = report.imported
            timings[f"{run}_unchanged"] = report.unchanged
    finally:
        await engine.dispose()
    return timings


async def measure(url: str, sites: int, queries: int) -> None:
    print(f"loading {sites:,} synthetic sites into {SCRATCH_DB} ...", flush=True)
    load = await load_sites(url, sites)
    print(
        f"COPY {load['copy_s']:.1f}s ({sites / load['copy_s']:,.0f} rows/s), "
        f"indexes {load['index_s']:.1f}s"
    )
    print(f"\n{'filter':<20}{'radius':>8}{'p50 ms':>10}{'p95 ms':>10}{'sql p95':>10}{'rows':>8}")
    for label, radius, p50, p95, sql95, rows in await time_queries(url, queries):
        print(f"{label:<20}{radius:>7}m{p50:>10.2f}{p95:>10.2f}{sql95:>10.2f}{rows:>8.0f}")
    rate = await import_rate(url)
    rows = rate["rows"]
    total = rate["parse_s"] + rate["first_upsert_s"]
    print(
        f"\nreal datasets: {rows:.0f} CSV rows; parse {rate['parse_s'] * 1000:.0f} ms; "
        f"first upsert {rate['first_upsert_s'] * 1000:.0f} ms "
        f"({rate['first_imported']:.0f} imported); "
        f"re-run {rate['second_upsert_s'] * 1000:.0f} ms "
        f"({rate['second_unchanged']:.0f} unchanged); {rows / total:,.0f} rows/s end to end"
    )


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    settings = Settings()
    if settings.database_url:
        yield settings.database_url
        return
    from eco2.platform.embedded import embedded_services

    with (
        tempfile.TemporaryDirectory() as tmp,
        embedded_services(Path(tmp), postgres=True, valkey=False) as urls,
    ):
        yield urls["database_url"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    with postgres() as base_url:
        url = asyncio.run(create_scratch(base_url))
        upgrade(Settings(database_url=url, env="local"), "head")  # alembic runs its own loop
        try:
            asyncio.run(measure(url, args.sites, args.queries))
        finally:
            if not args.keep:
                asyncio.run(drop_scratch(base_url))


if __name__ == "__main__":
    main()
