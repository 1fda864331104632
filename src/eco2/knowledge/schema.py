"""Typed shapes of the waste knowledge files (validated on load by msgspec)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

import msgspec

PickupCategory = Literal[
    "clear_pet",
    "colored_pet",
    "can",
    "paper",
    "plastic",
    "glass",
    "textile",
    "electronics",
    "general",
]
"""Map filter keys the web client understands (contract §5); the location domain's sites carry
them, the taxonomy's recyclable middles point to them."""
PICKUP_CATEGORIES: tuple[PickupCategory, ...] = get_args(PickupCategory)


class Rule(StrEnum):
    """The four household sorting rules, in the Korean wording shown to users."""

    EMPTY = "비운다"
    RINSE = "헹군다"
    SEPARATE = "분리한다"
    NO_MIX = "섞지 않는다"


class Condition(StrEnum):
    """Situation tags a photo classifier may detect."""

    CONTENTS_LEFT = "contents_left"
    FOOD_CONTAMINATION = "food_contamination"
    LABEL_ATTACHED = "label_attached"
    CAP_ATTACHED = "cap_attached"
    PUMP_ATTACHED = "pump_attached"
    MIXED_MATERIAL = "mixed_material"
    BROKEN_GLASS = "broken_glass"
    GAS_LEFT = "gas_left"
    BATTERY_INSIDE = "battery_inside"
    BULKY = "bulky"


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Base: unknown keys are typos, so reject them."""


# --- taxonomy.yaml -------------------------------------------------------------------------


class Middle(_Strict, frozen=True):
    name: str
    code: str
    minors: list[str]
    pickup_category: PickupCategory | None = None


class Major(_Strict, frozen=True):
    name: str
    code: str
    recyclable: bool = False
    middles: list[Middle] = []


class Taxonomy(_Strict, frozen=True):
    majors: list[Major]


# --- conditions.yaml and rules/<code>.yaml -------------------------------------------------


class Correction(_Strict, frozen=True):
    condition: Condition
    correction: str  # concrete step that fixes it (or confirms the right way)
    insufficiency: str = ""  # "아쉬운 점" sentence shown for a bad result
    acceptable: bool = False  # the condition is expected for this category, not a fault


class DefaultCorrections(_Strict, frozen=True):
    corrections: list[Correction]


class SubKind(_Strict, frozen=True):
    name: str
    examples: list[str]
    steps: list[str]


class LookAlike(_Strict, frozen=True):
    item: str
    major: str
    reason: str
    middle: str | None = None


class RulesDoc(_Strict, frozen=True):
    code: str
    major: str
    title: str
    summary: str
    targets: list[str]  # 대상
    common_steps: list[str]  # 공통 배출 방법
    sub_kinds: list[SubKind]  # 세부 품목
    look_alikes: list[LookAlike]  # 헷갈리는 품목
    tips: list[str]
    rules: list[Rule]
    middle: str | None = None  # set for recyclable middles; other majors have one doc each
    corrections: list[Correction] = []  # overrides of conditions.yaml for this category


# --- items.yaml ----------------------------------------------------------------------------


class Item(_Strict, frozen=True):
    id: str
    name: str
    major: str
    middle: str
    minor: str
    synonyms: list[str] = []
    note: str | None = None  # overrides or adds to the category rules
    shared_terms: list[str] = []  # terms knowingly shared with another category


class _GroupedItem(_Strict, frozen=True):
    id: str
    name: str
    minor: str
    synonyms: list[str] = []
    note: str | None = None
    shared_terms: list[str] = []


class ItemGroup(_Strict, frozen=True):
    """Items sharing one (major, middle); spares repeating the category on every line."""

    major: str
    middle: str
    items: list[_GroupedItem]


class ItemsFile(_Strict, frozen=True):
    groups: list[ItemGroup]
