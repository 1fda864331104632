"""Responses of ``/api/v1/info``: knowledge-base items and the taxonomy as the client reads them."""

from __future__ import annotations

from datetime import datetime

import msgspec

from eco2.knowledge import RulesDoc


class ItemResult(msgspec.Struct):
    id: str
    name: str
    major_category: str
    middle_category: str
    minor_category: str
    synonyms: list[str]
    note: str | None
    score: float | None = None


class ItemDetail(msgspec.Struct):
    item: ItemResult
    rules: RulesDoc


class MiddleCategory(msgspec.Struct):
    name: str
    code: str
    pickup_category: str | None
    minor_categories: list[str]


class MajorCategory(msgspec.Struct):
    name: str
    code: str
    recyclable: bool
    middle_categories: list[MiddleCategory]


class NewsArticleView(msgspec.Struct):
    """One card of the Info tab (contract §7); ``keywords`` is null rather than empty."""

    id: str
    title: str
    url: str
    snippet: str
    source: str
    source_name: str
    published_at: datetime
    thumbnail_url: str | None
    source_icon_url: str | None
    category: str
    keywords: list[str] | None


class NewsMeta(msgspec.Struct):
    total_cached: int  # articles stored (in the category asked for)
    cache_expires_in: int  # seconds until the next collection; 0 when none is scheduled


class NewsPage(msgspec.Struct):
    articles: list[NewsArticleView]
    next_cursor: str | None
    has_more: bool
    meta: NewsMeta
