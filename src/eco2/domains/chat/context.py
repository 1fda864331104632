"""Conversation memory: what the last answer was about, follow-up resolution, a running summary.

A prompt stays bounded: the recent messages plus ``summary`` (the topics of the whole chat).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from eco2.knowledge import Hit

Search = Callable[[str, int], Awaitable[list[Hit]]]

FOLLOW_UP_CUES = (
    "그럼",
    "그러면",
    "그럼요",
    "그건",
    "그거",
    "그것",
    "이건",
    "이거",
    "저건",
    "그리고",
    "또 ",
    "아 그럼",
)
_LONGEST_CUE_FIRST = sorted(FOLLOW_UP_CUES, key=len, reverse=True)
PRONOUN_ONLY = ("그건", "그거", "이건", "이거", "저건", "그것", "이것")
MAX_TOPICS = 8
SEARCH_DEPTH = 10
AMBIGUITY_MARGIN = 0.06
NAMES_ITEM = 0.3  # lexical share above which the words themselves name an item
CLEAR_MATCH = 0.9  # the words are (almost) exactly one item's name


@dataclass(frozen=True, slots=True)
class Topic:
    """The item an answer was about."""

    item: str
    major: str
    middle: str

    def as_dict(self) -> dict[str, str]:
        return {"item": self.item, "major": self.major, "middle": self.middle}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Topic | None:
        if not raw or not raw.get("item"):
            return None
        return cls(str(raw["item"]), str(raw.get("major", "")), str(raw.get("middle", "")))


@dataclass(slots=True)
class History:
    """What a reply may use from earlier turns."""

    summary: str = ""
    recent: list[tuple[str, str]] = field(default_factory=list)  # (role, content), oldest first
    topic: Topic | None = None
    topics: list[str] = field(default_factory=list)


def is_follow_up(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith(FOLLOW_UP_CUES) or (
        len(stripped) <= 10 and stripped.endswith(("은요?", "는요?", "은요", "는요"))
    )


_QUESTION = re.compile(
    r"(어떻게|어디에|어디로|어디|제대로|따로)?\s*"
    r"(버려|버리|버릴|배출|분리수거|분리 배출|처리|재활용|수거)[가-힣]*"
    r"(\s*(법|방법|곳))?(\s*(알려줘|알려 줘|알려주세요|해요|하나요|되나요|돼요|인가요))?[?？!.~]*"
)


def strip_cue(text: str) -> str:
    """The words that name the item: no follow-up cue, no "how do I throw it away"."""
    stripped = text.strip()
    for cue in _LONGEST_CUE_FIRST:
        if stripped.startswith(cue):
            stripped = stripped[len(cue) :].strip()
            break
    return _QUESTION.sub(" ", stripped).strip() or stripped


def _ambiguous(hits: list[Hit]) -> bool:
    top = [h for h in hits[:3] if h.confident]
    if len(top) < 2:
        return False
    close = [h for h in top if top[0].score - h.score <= AMBIGUITY_MARGIN]
    return len({h.category for h in close}) > 1


async def resolve(
    text: str, topic: Topic | None, search: Search, alone: list[Hit] | None = None
) -> tuple[str, list[Hit], bool]:
    """(query used, hits, resolved against the earlier topic) for a disposal question;
    ``alone``: the hits of the text's own words (:func:`strip_cue`), if searched already."""
    own = strip_cue(text)
    if alone is None:
        alone = await search(own, SEARCH_DEPTH) if own else []
    if topic is None:
        return own, alone, False
    names_item = bool(alone) and alone[0].lexical >= NAMES_ITEM
    if not names_item or text.strip().startswith(PRONOUN_ONLY):
        combined = f"{topic.item} {own}".strip()
        return combined, await search(combined, SEARCH_DEPTH), True
    clear = alone[0].lexical >= CLEAR_MATCH and not _ambiguous(alone)
    if clear or not (is_follow_up(text) or _ambiguous(alone)):
        return own, alone, False
    combined = f"{topic.item} {own}"
    related = {h.item.id for h in alone if h.lexical >= NAMES_ITEM}
    hits = await search(combined, SEARCH_DEPTH)
    preferred = [h for h in hits if h.item.id in related]
    if preferred:
        return combined, preferred + [h for h in hits if h.item.id not in related], True
    return own, alone, False


def summarize(topics: list[str], topic: Topic | None) -> tuple[list[str], str]:
    """The running summary: the latest distinct topics of the chat, oldest first."""
    if topic is not None:
        label = f"{topic.item}({topic.middle})"
        topics = [t for t in topics if t != label] + [label]
    topics = topics[-MAX_TOPICS:]
    summary = f"지금까지 이야기한 품목: {', '.join(topics)}" if topics else ""
    return topics, summary
