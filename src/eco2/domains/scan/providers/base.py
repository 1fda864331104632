"""What every provider takes and returns, and how a provider failure is reported.

A vision provider turns a photo (and the user's words) into an :class:`Observation`: a
category of the taxonomy plus the situation tags it saw. An answer provider turns the
observation and the category's rules into an :class:`Answer`. Both raise
:class:`ProviderError` with a stable code when the model cannot be used; the pipeline records
the code on the scan and fails it cleanly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from eco2.knowledge import Condition, KnowledgeBase, RulesDoc

UNCLASSIFIED = "미분류"

ImageBytes = Callable[[], Awaitable[bytes]]
"""Fetches the photo on demand (size-capped, with a timeout); only some providers need it."""


class ProviderError(Exception):
    """A model call that did not produce a usable result.

    ``code`` is stored on the scan and shown to clients: ``model_timeout``,
    ``model_rate_limited``, ``model_unavailable``, ``model_bad_output``, ``image_fetch_failed``,
    ``image_too_large``, ``image_unreadable``, ``provider_not_configured``.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ScanInput:
    image_url: str
    user_input: str | None
    image_bytes: ImageBytes


@dataclass(frozen=True, slots=True)
class Observation:
    major: str
    middle: str
    minor: str
    conditions: tuple[Condition, ...] = ()
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    item_id: str | None = None  # knowledge-base item the observation matched, if any
    provider: str = ""

    @property
    def classified(self) -> bool:
        return self.major != UNCLASSIFIED


@dataclass(frozen=True, slots=True)
class Answer:
    disposal_steps: dict[str, str]
    insufficiencies: list[str] = field(default_factory=list)
    user_answer: str = ""
    provider: str = ""


@dataclass(frozen=True, slots=True)
class Grounding:
    """What an answer may rely on: the category's rules and the matched item's note."""

    rules: RulesDoc
    item_note: str | None
    corrections: dict[Condition, tuple[str, str, bool]]  # condition -> (fix, why, acceptable)


class VisionProvider(Protocol):
    name: str

    async def observe(self, scan: ScanInput) -> Observation: ...


class AnswerProvider(Protocol):
    name: str

    async def answer(self, observation: Observation, grounding: Grounding) -> Answer: ...


def unclassified(provider: str, evidence: tuple[str, ...] = ()) -> Observation:
    return Observation(
        major=UNCLASSIFIED,
        middle=UNCLASSIFIED,
        minor="판별 불가",
        evidence=evidence,
        provider=provider,
    )


def grounding_for(kb: KnowledgeBase, observation: Observation) -> Grounding:
    rules = kb.rules_for(observation.major, observation.middle)
    note = kb.item(observation.item_id).note if observation.item_id else None
    corrections = {}
    for condition in observation.conditions:
        fix = kb.correction(condition, observation.major, observation.middle)
        corrections[condition] = (fix.correction, fix.insufficiency, fix.acceptable)
    return Grounding(rules=rules, item_note=note, corrections=corrections)
