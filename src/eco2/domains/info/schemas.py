"""Responses of ``/api/v1/info``: knowledge-base items and the taxonomy as the client reads them."""

from __future__ import annotations

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
