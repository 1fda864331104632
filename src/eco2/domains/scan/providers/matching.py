"""Free text (the user's words, OCR, a caption, a model's item name) → knowledge-base items.

Thin adapter over the knowledge library's retrieval (``eco2.knowledge.search``). The
knowledge base ships with the code of every process, so this is an in-process library call,
not a cross-domain request. Results are cached per text: people photograph the same few
hundred things, and a model names them with the same words.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from eco2.knowledge import Item, KnowledgeBase, default_retriever, load_knowledge, search

MIN_SCORE = 0.4
"""Below this the words do not name an item well enough to classify on them alone."""


@dataclass(frozen=True, slots=True)
class Match:
    item: Item
    score: float


def knowledge() -> KnowledgeBase:
    return load_knowledge()


CACHE_SIZE = 8192
_cache: OrderedDict[tuple[str, int], tuple[Match, ...]] = OrderedDict()


def _normalize(text: str | None) -> str:
    return " ".join((text or "").split())[:200]


def _remember(key: tuple[str, int], matches: tuple[Match, ...]) -> None:
    _cache[key] = matches
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def match_text(text: str | None, limit: int = 3) -> list[Match]:
    """Best items for ``text``, best first (empty for blank text). CPU-bound: tens of ms."""
    key = (_normalize(text), limit)
    if not key[0]:
        return []
    if key not in _cache:
        hits = search(key[0], limit)
        _remember(key, tuple(Match(h.item, h.score) for h in hits if h.lexical > 0))
    return list(_cache[key])


async def find(text: str | None, limit: int = 3) -> list[Match]:
    """:func:`match_text` off the event loop unless the answer is cached."""
    key = (_normalize(text), limit)
    if not key[0]:
        return []
    if key in _cache:
        return list(_cache[key])
    return await asyncio.to_thread(match_text, text, limit)


def warm_up() -> None:
    """Build the retriever (tokenizer, IDF, embeddings) before the first request."""
    default_retriever()
    match_text("페트병")
