"""The chat intent evaluation set (tests/data/chat_intents.yaml) and its scoring."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import msgspec.yaml

from tests.conftest import data_path


class Case(msgspec.Struct, frozen=True):
    text: str
    intent: str
    middle: str | None = None
    image: bool = False
    split: str = "dev"  # dev: looked at while tuning; holdout: never tuned on


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
    by_intent: dict[str, list[int]] = field(default_factory=dict)  # intent -> [hits, cases]
    by_split: dict[str, list[int]] = field(default_factory=dict)

    def add(self, case: Case, intent: str, category: str | None) -> None:
        self.intents += 1
        self.intent_hits += intent == case.intent
        for tally in (
            self.by_intent.setdefault(case.intent, [0, 0]),
            self.by_split.setdefault(case.split, [0, 0]),
        ):
            tally[0] += intent == case.intent
            tally[1] += 1
        if case.middle and case.intent == "disposal":
            self.categories += 1
            self.category_hits += bool(category) and (category or "").endswith(f"/{case.middle}")

    @property
    def intent_accuracy(self) -> float:
        return self.intent_hits / max(self.intents, 1)

    @property
    def category_accuracy(self) -> float:
        return self.category_hits / max(self.categories, 1)

    def accuracy(self, intent: str) -> float:
        hits, cases = self.by_intent[intent]
        return hits / cases

    def table(self) -> str:
        """Accuracy per intent and per split, as a Markdown table."""
        rows = ["| intent | cases | correct | accuracy |", "|---|---:|---:|---:|"]
        for name, (hits, cases) in sorted(self.by_intent.items()):
            rows.append(f"| {name} | {cases} | {hits} | {hits / cases:.3f} |")
        for name, (hits, cases) in sorted(self.by_split.items()):
            rows.append(f"| all ({name}) | {cases} | {hits} | {hits / cases:.3f} |")
        rows.append(f"| all | {self.intents} | {self.intent_hits} | {self.intent_accuracy:.3f} |")
        return "\n".join(rows)
