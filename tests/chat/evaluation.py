"""The chat intent evaluation set (tests/data/chat_intents.yaml) and its scoring."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import msgspec.yaml

from tests.conftest import data_path


class Case(msgspec.Struct, frozen=True):
    text: str
    intent: str
    middle: str | None = None
    image: bool = False


class _File(msgspec.Struct):
    messages: list[Case]


def cases() -> list[Case]:
    return msgspec.yaml.decode(data_path("chat_intents.yaml").read_bytes(), type=_File).messages


@dataclass
class Score:
    intents: int = 0
    intent_hits: int = 0
    categories: int = 0
    category_hits: int = 0

    def add(self, case: Case, intent: str, category: str | None) -> None:
        self.intents += 1
        self.intent_hits += intent == case.intent
        if case.middle and case.intent == "disposal":
            self.categories += 1
            self.category_hits += bool(category) and (category or "").endswith(f"/{case.middle}")

    @property
    def intent_accuracy(self) -> float:
        return self.intent_hits / max(self.intents, 1)

    @property
    def category_accuracy(self) -> float:
        return self.category_hits / max(self.categories, 1)
