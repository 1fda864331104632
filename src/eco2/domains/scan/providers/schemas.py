"""Structured-output JSON schemas built from the taxonomy, and the shapes they decode into."""

from __future__ import annotations

from typing import Any

import msgspec

from eco2.domains.scan.providers.base import Answer, Observation, unclassified
from eco2.domains.scan.providers.matching import find
from eco2.domains.scan.providers.template import numbered
from eco2.knowledge import Category, Condition, KnowledgeBase

MAX_ANSWER_STEPS = 6
CONDITIONS = [c.value for c in Condition]


def _strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def vision_schema(kb: KnowledgeBase) -> dict[str, Any]:
    """Categories are enums of the taxonomy: the model cannot invent one."""
    categories = kb.categories()
    majors = list(dict.fromkeys(c.major for c in categories))
    middles = list(dict.fromkeys(c.middle for c in categories))
    minors = list(dict.fromkeys(m for c in categories for m in c.minors))
    return _strict_object(
        {
            "item_name": {"type": "string", "description": "사진 속 물건의 한국어 이름"},
            "major_category": {"type": "string", "enum": majors},
            "middle_category": {"type": "string", "enum": middles},
            "minor_category": {"type": "string", "enum": minors},
            "conditions": {"type": "array", "items": {"type": "string", "enum": CONDITIONS}},
            "confidence": {"type": "number"},
        }
    )


def answer_schema() -> dict[str, Any]:
    """``disposal_steps`` is an object "1".."n" → string; unused trailing steps are null."""
    steps = {
        str(i): {"type": "string"} if i == 1 else {"type": ["string", "null"]}
        for i in range(1, MAX_ANSWER_STEPS + 1)
    }
    return _strict_object(
        {
            "disposal_steps": _strict_object(steps),
            "insufficiencies": {"type": "array", "items": {"type": "string"}},
            "user_answer": {"type": "string"},
        }
    )


class VisionOutput(msgspec.Struct):
    item_name: str
    major_category: str
    middle_category: str
    minor_category: str
    conditions: list[Condition] = []
    confidence: float = 0.0


class AnswerOutput(msgspec.Struct):
    disposal_steps: dict[str, str | None]
    insufficiencies: list[str] = []
    user_answer: str = ""

    def to_answer(self, provider: str) -> Answer:
        ordered = sorted(self.disposal_steps.items(), key=lambda kv: _as_int(kv[0]))
        return Answer(
            disposal_steps=numbered([v for _, v in ordered if v]),
            insufficiencies=[s.strip() for s in self.insufficiencies if s.strip()],
            user_answer=self.user_answer.strip(),
            provider=provider,
        )


def _as_int(key: str) -> int:
    return int(key) if key.isdigit() else 1_000


def _category(kb: KnowledgeBase, major: str, middle: str) -> Category | None:
    """The model's pair, or the only category holding its middle when the major is off."""
    try:
        return kb.category(major, middle)
    except KeyError:
        owners = [c for c in kb.categories() if c.middle == middle]
        return owners[0] if len(owners) == 1 else None


async def observation_from(kb: KnowledgeBase, out: VisionOutput, provider: str) -> Observation:
    """Validate the model's answer against the taxonomy and attach the best matching item."""
    category = _category(kb, out.major_category, out.middle_category)
    if category is None or category.major == "미분류":
        return unclassified(provider, (f"model:{out.item_name}",))
    item = next(
        (m.item for m in await find(out.item_name, 5) if m.item.middle == category.middle), None
    )
    minor = out.minor_category if out.minor_category in category.minors else None
    return Observation(
        major=category.major,
        middle=category.middle,
        minor=minor or (item.minor if item else category.minors[0]),
        conditions=tuple(dict.fromkeys(out.conditions)),
        confidence=max(0.0, min(1.0, out.confidence)),
        evidence=(f"model:{out.item_name}",),
        item_id=item.id if item else None,
        provider=provider,
    )
