"""Keyset pagination, newest first, on a (timestamp, id) pair with an opaque cursor."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from eco2.platform.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def encode_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    raw = f"{moment.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (moment, id) a cursor names; the moment is an aware UTC time (a naive one, or one
    that leaves the calendar once moved to UTC, was never issued here)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text, _, row_id = raw.partition("|")
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("naive cursor time")
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidInput("cursor 값이 올바르지 않습니다.", field="cursor") from exc


async def newest_first(
    session: AsyncSession,
    query: Select[T],
    moment: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """One page of ``query`` ordered by (moment, id) descending, after ``cursor``."""
    if cursor:
        at, last = decode_cursor(cursor)
        query = query.where(or_(moment < at, and_(moment == at, row_id < last)))
    ordered = query.order_by(moment.desc(), row_id.desc()).limit(limit + 1)
    rows = list(await session.scalars(ordered))
    page = rows[:limit]
    if len(rows) <= limit:
        return Page(page, None)
    last_row = page[-1]
    return Page(page, encode_cursor(getattr(last_row, moment.key), getattr(last_row, row_id.key)))
