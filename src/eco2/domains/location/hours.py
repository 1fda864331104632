"""Opening hours: free-text day cells (``11:00 ~ 14:00``, ``휴무``, ``상시``) → a weekly schedule.

A schedule is plain JSON, stored as is: ``{"mon": Day, ..., "sun": Day, "holiday": Day}`` where
``Day`` is ``{"status": "open" | "closed" | "unknown", "ranges": [["09:00", "18:00"], ...],
"note": str | None}``. Today's status is computed in Asia/Seoul with Korean public holidays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"

_CLOSED = ("휴무", "휴업", "계약종료", "운영중단", "운영 중단", "폐쇄", "미운영")
_ALWAYS = ("상시", "24시간", "연중무휴")
_CLOCK = r"(\d{1,2})\s*(?::\s*(\d{2})|시(?:\s*(\d{2})\s*분)?)"
_RANGE = re.compile(_CLOCK + r"\s*[~\-–〜]\s*" + _CLOCK)
_PARENS = re.compile(r"\([^()]*\)")

Day = dict[str, Any]


def unknown_day(note: str | None = None) -> Day:
    return {"status": "unknown", "ranges": [], "note": note}


def _hhmm(hour: str, minute: str | None) -> str | None:
    h, m = int(hour), int(minute or 0)
    if h > 24 or m > 59 or (h == 24 and m):
        return None
    return f"{h:02d}:{m:02d}"


def _strip_notes(text: str) -> tuple[str, list[str]]:
    """Remove (possibly nested) parenthesised notes, returning them separately."""
    notes: list[str] = []
    while (match := _PARENS.search(text)) is not None:
        notes.append(match.group(0)[1:-1].strip())
        text = text[: match.start()] + " " + text[match.end() :]
    return text, [n for n in notes if n]


def parse_day(raw: str | None) -> Day:
    """One cell of the KECO weekday columns."""
    text = (raw or "").strip()
    if not text:
        return unknown_day()
    body, notes = _strip_notes(text)
    note = " ".join(text.split()) if notes else None
    if any(word in body for word in _CLOSED):
        return {"status": "closed", "ranges": [], "note": note}
    if any(word in body for word in _ALWAYS):
        return {"status": "open", "ranges": [["00:00", "24:00"]], "note": note}
    ranges = []
    for m in _RANGE.finditer(body):
        start = _hhmm(m.group(1), m.group(2) or m.group(3))
        end = _hhmm(m.group(4), m.group(5) or m.group(6))
        if start and end and start != end:
            ranges.append([start, end])
    if not ranges:
        return unknown_day(text)
    return {"status": "open", "ranges": ranges, "note": note}


def weekly(cells: dict[str, str | None], holiday_cells: list[str | None]) -> dict[str, Day]:
    """``cells``: weekday → cell; ``holiday_cells``: public-holiday columns, first wins.

    A holiday is closed when any holiday column says so (KECO repeats the information in
    ``lhldySalsHrExplnCn``, ``lhldyDyoffCn`` and ``tmprLhldyCn``).
    """
    schedule = {day: parse_day(cells.get(day)) for day in WEEKDAYS}
    parsed = [parse_day(cell) for cell in holiday_cells if cell and cell.strip()]
    if any(day["status"] == "closed" for day in parsed):
        schedule[HOLIDAY] = {"status": "closed", "ranges": [], "note": None}
    else:
        schedule[HOLIDAY] = parsed[0] if parsed else unknown_day()
    return schedule


@lru_cache(maxsize=8)
def _korean_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("KR", years=year)


def is_public_holiday(day: date) -> bool:
    return day in _korean_holidays(day.year)


@dataclass(frozen=True, slots=True)
class TodayHours:
    is_open: bool | None
    is_holiday: bool | None
    start_time: str | None
    end_time: str | None


NOT_KNOWN = TodayHours(None, None, None, None)
CLOSED_TODAY = TodayHours(False, True, None, None)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class Moment:
    """An instant as a schedule sees it in Asia/Seoul. Found once per response: the public
    holiday look-up costs more than reading a place's hours."""

    weekday: str
    is_public_holiday: bool
    minute_of_day: int


def moment(now: datetime | None = None) -> Moment:
    local = (now or datetime.now(SEOUL)).astimezone(SEOUL)
    return Moment(
        WEEKDAYS[local.weekday()], is_public_holiday(local.date()), local.hour * 60 + local.minute
    )


def today(schedule: dict[str, Day] | None, at: Moment | None = None) -> TodayHours:
    """Today's hours (``at``: now). ``is_holiday``: the place is closed all day today."""
    if not schedule:
        return NOT_KNOWN
    at = at or moment()
    day: Day = schedule.get(at.weekday) or unknown_day()
    if at.is_public_holiday:
        holiday = schedule.get(HOLIDAY) or unknown_day()
        day = holiday if holiday["status"] != "unknown" else day
    if day["status"] == "unknown":
        return NOT_KNOWN
    if day["status"] == "closed":
        return CLOSED_TODAY
    ranges = day["ranges"]
    is_open = any(_minutes(s) <= at.minute_of_day < _minutes(e) for s, e in ranges)
    return TodayHours(is_open, False, ranges[0][0], ranges[-1][1])
