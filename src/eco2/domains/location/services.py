"""Map queries on the earthdistance GiST index, text search, and idempotent imports."""

from __future__ import annotations

import asyncio
import functools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec
import structlog
from sqlalchemy import (
    ARRAY,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.location import categories, datasets, geo, hours, kakao
from eco2.domains.location.kakao import KakaoLocal, search_kakao
from eco2.domains.location.models import Site
from eco2.domains.location.schemas import (
    CenterDetail,
    CenterEntry,
    DayHours,
    ImportReport,
    NearestRequest,
    Suggestion,
)
from eco2.knowledge import PICKUP_CATEGORIES
from eco2.platform.db import utcnow
from eco2.platform.errors import InvalidInput, NotFound
from eco2.platform.runtime import Runtime

log = structlog.get_logger(__name__)

MIN_RADIUS_M, MAX_RADIUS_M = 100, 50_000
MIN_ZOOM, MAX_ZOOM, DEFAULT_ZOOM = 2, 15, 13
SEARCH_RADIUS_M, SEARCH_LIMIT, SUGGEST_LIMIT = 5000, 30, 10
IMPORT_BATCH = 500
_SEED_LOCK = 0x10CA7105  # pg advisory lock id for the first-start import


# --- map ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CenterQuery:
    lat: float
    lon: float
    radius_m: float
    limit: int
    store_categories: tuple[str, ...] = ()
    pickup_categories: tuple[str, ...] = ()


_ENTRY_COLUMNS = (
    Site.id, Site.name, Site.source, Site.road_address, Site.lot_address, Site.latitude,
    Site.longitude, Site.store_category, Site.pickup_categories, Site.phone, Site.place_url,
    Site.kakao_place_id, Site.hours,
)  # fmt: skip


def zoom_defaults(zoom: int | None) -> tuple[int, int]:
    """(radius in metres, result limit) for a map zoom (16 − Kakao level; 2 to 15).

    Zoom 13 (Kakao's default level 3) gives 1 km; each level out doubles it.
    """
    level = min(max(zoom if zoom is not None else DEFAULT_ZOOM, MIN_ZOOM), MAX_ZOOM)
    radius = clamp_radius(1000 * 2 ** (DEFAULT_ZOOM - level))
    limit = 50 if level >= 14 else 100 if level >= 11 else 200
    return radius, limit


def clamp_radius(radius: float) -> int:
    """Any radius is accepted (the client sends the view's corner distance) and clamped."""
    if not math.isfinite(radius):
        return MAX_RADIUS_M
    return int(min(max(radius, MIN_RADIUS_M), MAX_RADIUS_M))


def parse_choices(raw: str | None, allowed: Sequence[str], field: str) -> tuple[str, ...]:
    """Comma-joined keys (``refill_zero,cafe_bakery``); an unknown key is a 422 naming it."""
    chosen = tuple(dict.fromkeys(k.strip() for k in (raw or "").split(",") if k.strip()))
    unknown = [k for k in chosen if k not in allowed]
    if unknown:
        raise InvalidInput(
            f"알 수 없는 값입니다: {', '.join(unknown)} (가능한 값: {', '.join(allowed)})",
            code="invalid_category",
            field=field,
        )
    return chosen


def _earth(lat: Any, lon: Any) -> Any:
    return func.ll_to_earth(lat, lon)


def _site_point() -> Any:
    return Site.earth


@functools.cache
def _centers_shape(by_store: bool, by_pickup: bool) -> Select[Any]:
    """The map statement for one combination of filters, built once with bound values:
    building and keying a statement costs more CPU than PostgreSQL takes to run it.

    A KNN scan of the GiST on ``earth``: the radius box bounds it, ``<->`` orders it
    nearest first, so ``LIMIT`` stops it early. With filters, two steps: ``hits`` is an
    index-only scan (the index covers ``id`` and the filter columns), so a place a filter
    rejects costs an index tuple, not a table row (at 2 km in a dense city most of the box
    is rejected); then only the hits are read, by primary key. Without filters every row
    the scan finds is returned, so one step reads them straight from the index's row
    pointers."""
    origin = _earth(bindparam("lat", type_=Float), bindparam("lon", type_=Float))
    radius = bindparam("radius_m", type_=Float)
    point = _site_point()
    distance = func.earth_distance(origin, point)
    filters = []
    if by_store:
        filters.append(Site.store_category.in_(bindparam("stores", expanding=True)))
    if by_pickup:
        wanted = bindparam("pickups", type_=ARRAY(String(32)))
        filters.append(Site.pickup_categories.overlap(cast(wanted, ARRAY(String(32)))))

    def nearest(*columns: Any) -> Select[Any]:
        return (
            select(*columns, distance.label("distance_m"))
            .where(func.earth_box(origin, radius).op("@>")(point), distance <= radius, *filters)
            .order_by(point.op("<->")(origin))
            .limit(bindparam("limit", type_=Integer))
        )

    if not filters:
        return nearest(*_ENTRY_COLUMNS)  # rows, not ORM objects: a map asks for up to 200
    hits = nearest(Site.id).subquery("hits")
    return (
        select(*_ENTRY_COLUMNS, hits.c.distance_m)
        .join_from(Site, hits, Site.id == hits.c.id)
        .order_by(hits.c.distance_m, Site.id)
    )


def _centers_values(query: CenterQuery) -> dict[str, Any]:
    values: dict[str, Any] = {
        "lat": query.lat, "lon": query.lon, "radius_m": query.radius_m, "limit": query.limit,
    }  # fmt: skip
    if query.store_categories:
        values["stores"] = list(query.store_categories)
    if query.pickup_categories:
        values["pickups"] = list(query.pickup_categories)
    return values


def centers_statement(query: CenterQuery) -> Select[Any]:
    """The map statement with ``query``'s values bound (for EXPLAIN; the service binds them
    at execution)."""
    shape = _centers_shape(bool(query.store_categories), bool(query.pickup_categories))
    return shape.params(_centers_values(query))


# cube's GiST estimates are crude, so the planner likes a bitmap scan of the whole box plus
# a sort (190 ms for 15k sites in 10 km of Seoul), more so while the visibility map lags
# behind an import (an index-only scan then looks costly). The ordered KNN index scan stops
# after LIMIT rows (8 ms): keep the planner on it for this transaction only.
KNN_PLAN = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)"
)


async def find_centers(
    session: AsyncSession, query: CenterQuery, now: datetime | None = None
) -> list[CenterEntry]:
    """The map query in ``session`` (the service's unit of work; the bench times it alone)."""
    at = hours.moment(now)
    connection = await session.connection()  # Core statements: no ORM result processing
    await connection.execute(KNN_PLAN)
    shape = _centers_shape(bool(query.store_categories), bool(query.pickup_categories))
    rows = await connection.execute(shape, _centers_values(query))
    return [to_center_entry(row, row.distance_m, at) for row in rows]


def nearest_query(request: NearestRequest) -> CenterQuery:
    return CenterQuery(
        lat=request.latitude,
        lon=request.longitude,
        radius_m=min(request.radius_m, MAX_RADIUS_M),
        limit=request.limit,
        store_categories=parse_choices(
            request.store_category, categories.STORE_CATEGORIES, "store_category"
        ),
        pickup_categories=parse_choices(
            request.pickup_category, categories.SITE_PICKUP, "pickup_category"
        ),
    )


def shown(text: str | None) -> str | None:
    """A text the client may print, or None: a blank one would show an empty row."""
    return text.strip() or None if text else None


class EntryColumns(Protocol):
    """A ``Site``, or a row of the columns a map entry shows (``_ENTRY_COLUMNS``)."""

    id: int
    name: str
    source: str
    road_address: str | None
    lot_address: str | None
    latitude: float
    longitude: float
    store_category: str
    pickup_categories: list[str]
    phone: str | None
    place_url: str | None
    kakao_place_id: str | None
    hours: dict[str, Any]


def to_center_entry(
    site: EntryColumns, distance_m: float | None, at: hours.Moment | None = None
) -> CenterEntry:
    today = hours.today(site.hours, at)
    return CenterEntry(
        id=site.id,
        name=site.name,
        source=site.source,
        road_address=shown(site.road_address),
        lot_address=shown(site.lot_address),
        latitude=site.latitude,
        longitude=site.longitude,
        distance_km=round(distance_m / 1000, 3) if distance_m is not None else None,
        distance_text=geo.distance_text(distance_m) if distance_m is not None else None,
        store_category=site.store_category,
        pickup_categories=categories.client_pickup(site.pickup_categories),
        phone=shown(site.phone),
        place_url=shown(site.place_url),
        kakao_place_id=shown(site.kakao_place_id),
        is_open=today.is_open,
        is_holiday=today.is_holiday,
        start_time=today.start_time,
        end_time=today.end_time,
    )


def to_center_detail(site: Site) -> CenterDetail:
    client = set(PICKUP_CATEGORIES)
    items = [text for text in map(shown, site.collection_items) if text]
    return CenterDetail(
        **msgspec.structs.asdict(to_center_entry(site, None)),
        pickup_subcategories=[c for c in site.pickup_categories if c not in client] or None,
        collection_items=", ".join(dict.fromkeys(items)) or None,
        introduction=shown(site.introduction),
        memo=shown(site.memo),
        location_note=shown(site.location_note),
        region=shown(site.region),
        phones=[p for p in map(shown, site.phones) if p] or None,
        homepage=shown(site.homepage),
        hours={k: DayHours(**v) for k, v in site.hours.items()} if site.hours else None,
    )


# --- text search ----------------------------------------------------------------------------


def _terms(q: str) -> list[str]:
    terms = [datasets.squash(t) for t in q.split()]
    return [t for t in terms if t][:8]


def _check_query(q: str) -> None:
    if not _terms(q):
        raise InvalidInput("검색어를 입력해 주세요.", code="empty_query", field="q")


def _search_statement(q: str, limit: int) -> Select[Any]:
    """Every term (spaces ignored, NFC, lower case) in name/address/items; or a close name."""
    _check_query(q)
    terms = _terms(q)
    needle = datasets.squash(q)
    name = func.lower(func.replace(Site.name, " ", ""))
    all_terms = and_(*(Site.search_text.contains(t, autoescape=True) for t in terms))
    relevance = (
        case(
            (name == needle, 3.0),
            (name.startswith(needle, autoescape=True), 2.0),
            (name.contains(needle, autoescape=True), 1.0),
            else_=0.0,
        )
        + func.similarity(Site.name, q)
    ).label("relevance")
    return (
        select(Site, relevance)
        .where(or_(all_terms, Site.name.op("%")(q)))
        .order_by(relevance.desc(), Site.id)
        .limit(limit)
    )


async def find_sites(
    session: AsyncSession, q: str, origin: tuple[float, float] | None, radius_m: int
) -> list[CenterEntry]:
    """Our places matching ``q``: best matches first; with a position, those within
    ``radius_m``, closest first."""
    stmt = _search_statement(q, SEARCH_LIMIT if origin is None else SEARCH_LIMIT * 4)
    if origin is None:
        rows = await session.execute(stmt)
        at = hours.moment()
        return [to_center_entry(site, None, at) for site, _ in rows]
    point = _earth(literal(origin[0], Float), literal(origin[1], Float))
    distance = func.earth_distance(point, _site_point())
    rows = await session.execute(
        stmt.add_columns(distance.label("distance_m")).where(distance <= radius_m)
    )
    found = sorted(rows, key=lambda r: (r[2], -r[1]))[:SEARCH_LIMIT]
    at = hours.moment()
    return [to_center_entry(site, d, at) for site, _, d in found]


# --- import ---------------------------------------------------------------------------------

Progress = Callable[[int], None]


async def _existing_hashes(
    session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for start in range(0, len(keys), IMPORT_BATCH):
        chunk = keys[start : start + IMPORT_BATCH]
        rows = await session.execute(
            select(Site.source, Site.source_key, Site.content_hash).where(
                tuple_(Site.source, Site.source_key).in_(chunk)
            )
        )
        found.update({(s, k): h for s, k, h in rows})
    return found


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    now = utcnow()
    stmt = insert(Site).values([{**r, "created_at": now, "updated_at": now} for r in rows])
    changed = [c for c in rows[0] if c not in ("source", "source_key")]
    stmt = stmt.on_conflict_do_update(
        index_elements=[Site.source, Site.source_key],
        set_={**{c: stmt.excluded[c] for c in changed}, "updated_at": now},
        where=Site.content_hash != stmt.excluded.content_hash,
    )
    await session.execute(stmt)


async def import_parsed(
    session: AsyncSession, parsed: datasets.ParseResult, progress: Progress | None = None
) -> ImportReport:
    """Upsert on (source, source_key); rows merged into another place are removed."""
    rows = [record.row() for record in parsed.records]
    before = await _existing_hashes(session, [(r["source"], r["source_key"]) for r in rows])
    imported = sum(1 for r in rows if (r["source"], r["source_key"]) not in before)
    unchanged = sum(
        1 for r in rows if before.get((r["source"], r["source_key"])) == r["content_hash"]
    )
    for start in range(0, len(rows), IMPORT_BATCH):
        batch = rows[start : start + IMPORT_BATCH]
        await _upsert(session, batch)
        if progress:
            progress(len(batch))
    await _drop_merged(session, parsed.records)
    return ImportReport(
        rows=parsed.rows,
        imported=imported,
        updated=len(rows) - imported - unchanged,
        unchanged=unchanged,
        merged=len(parsed.merged),
        skipped=dict(Counter(s.reason for s in parsed.skipped)),
        skipped_rows=[
            {"source": s.source, "key": s.key, "name": s.name, "reason": s.reason}
            for s in parsed.skipped
        ],
    )


async def _drop_merged(session: AsyncSession, records: list[datasets.SiteRecord]) -> None:
    merged = [(r.source, key) for r in records for key in r.merged_keys]
    if merged:
        await session.execute(delete(Site).where(tuple_(Site.source, Site.source_key).in_(merged)))


async def has_sites(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Site.id.isnot(None)))))


# --- the service ----------------------------------------------------------------------------


class LocationService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        settings = runtime.settings
        self._kakao = (
            KakaoLocal(settings, runtime.http, runtime.redis)
            if settings.kakao_rest_api_key
            else None
        )

    async def centers(self, query: CenterQuery) -> list[CenterEntry]:
        async with self._runtime.sessions() as session:
            return await find_centers(session, query)

    async def nearest(self, request: NearestRequest) -> list[CenterEntry]:
        """The port other domains call: closest places, optionally taking one kind of item."""
        return await self.centers(nearest_query(request))

    async def detail(self, raw_id: str) -> CenterDetail:
        if not raw_id.isdigit() or len(raw_id) > 18:
            raise InvalidInput("장소 ID는 숫자여야 합니다.", code="invalid_id", field="id")
        async with self._runtime.sessions() as session:
            site = await session.get(Site, int(raw_id))
            if site is None:
                raise NotFound("장소를 찾을 수 없습니다.", code="location_not_found")
            return to_center_detail(site)

    async def search(
        self,
        q: str,
        lat: float | None = None,
        lon: float | None = None,
        radius_m: int = SEARCH_RADIUS_M,
    ) -> list[CenterEntry]:
        """Ours and, with a Kakao key, Kakao Local's (keyword and address search) merged:
        without a position ours first, country-wide; with one, everything within ``radius_m``,
        closest first. Kakao failing or slow leaves ours."""
        _check_query(q)
        origin = (lat, lon) if lat is not None and lon is not None else None

        async def ours() -> list[CenterEntry]:
            async with self._runtime.sessions() as session:
                return await find_sites(session, q, origin, radius_m)

        found, (places, addresses) = await asyncio.gather(
            ours(), search_kakao(self._kakao, q, origin, radius_m)
        )
        theirs = [*kakao.place_entries(places, origin), *kakao.address_entries(addresses, origin)]
        return kakao.merge_entries(found, theirs, origin, radius_m, SEARCH_LIMIT)

    async def suggest(self, q: str) -> list[Suggestion]:
        """Autocomplete: our matching places first, then Kakao's places and addresses."""
        _check_query(q)

        async def ours() -> list[CenterEntry]:
            async with self._runtime.sessions() as session:
                rows = await session.execute(_search_statement(q, SUGGEST_LIMIT))
                at = hours.moment()
                return [to_center_entry(site, None, at) for site, _ in rows]

        found, (places, addresses) = await asyncio.gather(
            ours(), search_kakao(self._kakao, q, None, SEARCH_RADIUS_M)
        )
        theirs = [*kakao.place_entries(places, None), *kakao.address_entries(addresses, None)]
        merged = kakao.merge_entries(found, theirs, None, SEARCH_RADIUS_M, SUGGEST_LIMIT + 5)
        return kakao.suggestions(merged)

    async def import_bundled_if_empty(self) -> None:
        """First start of the embedded default: the bundled datasets into an empty table."""
        if not self._runtime.settings.imports_locations_on_start:
            return
        async with self._runtime.sessions.begin() as session:
            if await has_sites(session):
                return
            locked = await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({_SEED_LOCK})"))
            if not locked or await has_sites(session):
                return
            parsed = await asyncio.to_thread(datasets.parse, datasets.bundled_files())
            report = await import_parsed(session, parsed)
        log.info("locations_imported", imported=report.imported, skipped=report.skipped)
