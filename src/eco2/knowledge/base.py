"""The knowledge base: taxonomy, one rules document per category, searchable items.

Everything is read from the YAML files in ``data/`` and validated on load, first against the
msgspec schema (``schema.py``), then by cross-checks (``consistency.py``). A broken file fails
loudly at start-up with the file name and the offending path instead of a wrong answer later.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import msgspec
import msgspec.yaml

from eco2.knowledge.consistency import check_knowledge
from eco2.knowledge.schema import (
    Condition,
    Correction,
    DefaultCorrections,
    Item,
    ItemsFile,
    Major,
    Middle,
    PickupCategory,
    RulesDoc,
    Taxonomy,
)

DATA_DIR = Path(__file__).parent / "data"

T = TypeVar("T")


class KnowledgeError(ValueError):
    """A knowledge file is malformed or inconsistent."""


class Category(msgspec.Struct, frozen=True):
    """One (major, middle) pair as the API returns it."""

    major: str
    middle: str
    code: str  # rules document code: the middle's for recyclables, the major's otherwise
    recyclable: bool
    pickup_category: PickupCategory | None
    minors: tuple[str, ...]


class KnowledgeBase:
    """Read-only lookups over the validated knowledge files."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        rules: dict[str, RulesDoc],
        items: list[Item],
        default_corrections: list[Correction],
    ) -> None:
        self.taxonomy = taxonomy
        self._rules = rules
        self._items = {item.id: item for item in items}
        self._defaults = {c.condition: c for c in default_corrections}
        self._majors = {major.name: major for major in taxonomy.majors}
        self._categories = {(c.major, c.middle): c for c in _flatten(taxonomy)}

    def categories(self) -> list[Category]:
        return list(self._categories.values())

    def category(self, major: str, middle: str) -> Category:
        try:
            return self._categories[(major, middle)]
        except KeyError:
            raise KeyError(f"unknown category: {major} / {middle}") from None

    def items(self) -> list[Item]:
        return list(self._items.values())

    def item(self, item_id: str) -> Item:
        try:
            return self._items[item_id]
        except KeyError:
            raise KeyError(f"unknown item id: {item_id}") from None

    def rules_for(self, major: str, middle: str | None = None) -> RulesDoc:
        """Rules for a recyclable middle, or for a whole non-recyclable major."""
        return self._rules[self._rules_code(major, middle)]

    def pickup_category(self, middle: str) -> PickupCategory | None:
        """Map filter key for a middle category (None for non-recyclables)."""
        for category in self._categories.values():
            if category.middle == middle:
                return category.pickup_category
        return None

    def correction(self, condition: Condition, major: str, middle: str | None = None) -> Correction:
        """The category's own correction for a situation tag, else the default one."""
        doc = self.rules_for(major, middle)
        for own in doc.corrections:
            if own.condition == condition:
                return own
        return self._defaults[condition]

    def _rules_code(self, major: str, middle: str | None) -> str:
        major_def = self._majors.get(major)
        if major_def is None:
            raise KeyError(f"unknown major category: {major}")
        if not major_def.recyclable:
            return major_def.code  # one rules document per non-recyclable major
        if middle is None:
            raise KeyError("a recyclable category needs its middle to pick rules")
        return self.category(major, middle).code


@lru_cache(maxsize=4)
def load_knowledge(data_dir: Path = DATA_DIR) -> KnowledgeBase:
    """Load and validate the knowledge files once per directory."""
    taxonomy = _decode(data_dir / "taxonomy.yaml", Taxonomy)
    defaults = _decode(data_dir / "conditions.yaml", DefaultCorrections).corrections
    rules = {path.stem: _decode(path, RulesDoc) for path in sorted(data_dir.glob("rules/*.yaml"))}
    items = _expand(_decode(data_dir / "items.yaml", ItemsFile))
    problems = check_knowledge(taxonomy, rules, items, defaults)
    if problems:
        listed = "\n  - ".join(problems)
        raise KnowledgeError(f"{len(problems)} problem(s) in {data_dir}:\n  - {listed}")
    return KnowledgeBase(taxonomy, rules, items, defaults)


def _decode(path: Path, schema: type[T]) -> T:
    """Decode one YAML file; name the file in the error so it is easy to find."""
    try:
        return msgspec.yaml.decode(path.read_bytes(), type=schema)
    except FileNotFoundError:
        raise KnowledgeError(f"{path.name}: missing knowledge file ({path})") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise KnowledgeError(f"{path.name}: {exc}") from exc


def _expand(items_file: ItemsFile) -> list[Item]:
    """Give every grouped item its group's major and middle."""
    return [
        Item(
            id=entry.id,
            name=entry.name,
            major=group.major,
            middle=group.middle,
            minor=entry.minor,
            synonyms=entry.synonyms,
            note=entry.note,
            shared_terms=entry.shared_terms,
        )
        for group in items_file.groups
        for entry in group.items
    ]


def _flatten(taxonomy: Taxonomy) -> list[Category]:
    return [_category(major, middle) for major in taxonomy.majors for middle in major.middles]


def _category(major: Major, middle: Middle) -> Category:
    return Category(
        major=major.name,
        middle=middle.name,
        code=middle.code if major.recyclable else major.code,
        recyclable=major.recyclable,
        pickup_category=middle.pickup_category,
        minors=tuple(middle.minors),
    )
