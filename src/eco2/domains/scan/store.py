"""Reading scans back: one scan, a user's history page, a user's counters."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.scan.models import Scan
from eco2.domains.scan.schemas import HistoryPage, ScanMetrics, ScanSummary
from eco2.platform.db import utcnow
from eco2.platform.errors import NotFound
from eco2.platform.ids import parse_id
from eco2.platform.pagination import newest_first

RECYCLABLE = "재활용폐기물"


def not_found() -> NotFound:
    return NotFound("분석 작업을 찾을 수 없습니다.", code="scan_not_found")


async def owned_scan(session: AsyncSession, user_id: uuid.UUID, scan_id: str) -> Scan:
    scan = await session.get(Scan, parse_id(scan_id, not_found))
    if scan is None or scan.user_id != user_id:
        raise not_found()
    return scan


def abandoned(scan: Scan, lifetime: float) -> bool:
    """Still unfinished past the longest its job can take: every attempt died (a job that was
    never queued, because its submit failed half-way, ends up here too)."""
    unfinished = scan.status in ("queued", "running")
    return unfinished and utcnow() - scan.created_at > timedelta(seconds=lifetime)


def summary(scan: Scan) -> ScanSummary:
    return ScanSummary(
        id=str(scan.id),
        status=scan.status,
        created_at=scan.created_at,
        image_url=scan.image_url,
        user_input=scan.user_input,
        major_category=scan.major_category,
        middle_category=scan.middle_category,
        minor_category=scan.minor_category,
        reward_name=(scan.reward or {}).get("name"),
        error_code=scan.error_code,
    )


async def history(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> HistoryPage:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(Scan).where(Scan.user_id == user_id)
    page = await newest_first(session, query, Scan.created_at, Scan.id, limit=limit, cursor=cursor)
    return HistoryPage(
        items=[summary(s) for s in page.rows],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )


async def metrics(session: AsyncSession, user_id: uuid.UUID) -> ScanMetrics:
    mine = Scan.user_id == user_id
    totals = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Scan.status == "completed"),
                func.count().filter(Scan.status == "failed"),
                func.count().filter(Scan.major_category == RECYCLABLE),
                func.count().filter(Scan.reward.is_not(None)),
                func.max(Scan.created_at),
            ).where(mine)
        )
    ).one()
    by_middle = await session.execute(
        select(Scan.middle_category, func.count())
        .where(mine, Scan.status == "completed", Scan.middle_category.is_not(None))
        .group_by(Scan.middle_category)
    )
    return ScanMetrics(
        total=totals[0],
        completed=totals[1],
        failed=totals[2],
        recyclable=totals[3],
        rewarded=totals[4],
        by_middle_category={str(m): int(n) for m, n in by_middle},
        last_scan_at=totals[5],
    )
