"""Retrieval quality measurement, shared by bench/retrieval_eval.py and the tests."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import msgspec.yaml

from eco2.knowledge.retrieval import Hit, Retriever, top_categories


class Query(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    q: str
    major: str
    middle: str
    item: str | None = None
    split: str = "dev"  # "holdout": written after tuning, never used to choose weights


class EvalSet(msgspec.Struct, frozen=True):
    queries: list[Query]


class Report(msgspec.Struct, frozen=True):
    queries: int
    category_at_1: float
    category_at_3: float
    item_at_1: float
    item_at_3: float
    misses: list[str]


def load_eval(path: Path) -> list[Query]:
    return msgspec.yaml.decode(path.read_bytes(), type=EvalSet).queries


def evaluate(retriever: Retriever, queries: list[Query]) -> Report:
    """Recall@k by category (distinct categories in hit order) and by expected item id."""
    cat1 = cat3 = item1 = item3 = 0
    misses: list[str] = []
    for query in queries:
        hits = retriever.search(query.q, limit=10)
        categories = top_categories(hits, 3)
        expected = (query.major, query.middle)
        cat1 += categories[:1] == [expected]
        cat3 += expected in categories
        ids = [hit.item.id for hit in hits[:3]]
        item1 += query.item is not None and ids[:1] == [query.item]
        item3 += query.item is not None and query.item in ids
        if categories[:1] != [expected]:
            misses.append(_describe_miss(query, hits))
    n_items = max(1, sum(q.item is not None for q in queries))
    n = max(1, len(queries))
    return Report(len(queries), cat1 / n, cat3 / n, item1 / n_items, item3 / n_items, misses)


def latencies_ms(retriever: Retriever, queries: list[Query]) -> list[float]:
    """Wall time per search; run before ``evaluate`` so no query embedding is cached yet."""
    timings: list[float] = []
    for query in queries:
        start = time.perf_counter()
        retriever.search(query.q, limit=5)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _describe_miss(query: Query, hits: list[Hit]) -> str:
    got = ", ".join(f"{h.item.name}({h.item.middle})" for h in hits[:3])
    return f"{query.q!r}: expected {query.middle} -> {got}"
