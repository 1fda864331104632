"""Retrieval quality and latency on tests/data/retrieval_eval.yaml.

Usage: PYTHONPATH=src python bench/retrieval_eval.py [--lexical-only] [--cache-dir DIR] [-v]

Prints recall@1 / recall@3 by category (distinct (major, middle) pairs in hit order) and by
item, the index build time and the per-query latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import msgspec
import msgspec.yaml

from eco2.domains.waste.embedding import load_embedder
from eco2.domains.waste.knowledge import load_knowledge
from eco2.domains.waste.retrieval import Hit, Retriever, top_categories

EVAL_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "retrieval_eval.yaml"


class Query(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    q: str
    major: str
    middle: str
    item: str | None = None


class EvalSet(msgspec.Struct, frozen=True):
    queries: list[Query]


class Report(msgspec.Struct):
    category_at_1: float
    category_at_3: float
    item_at_1: float
    item_at_3: float
    misses: list[str]


def load_eval(path: Path = EVAL_FILE) -> list[Query]:
    return msgspec.yaml.decode(path.read_bytes(), type=EvalSet).queries


def evaluate(retriever: Retriever, queries: list[Query]) -> Report:
    cat1 = cat3 = item1 = item3 = 0
    with_item = [q for q in queries if q.item]
    misses: list[str] = []
    for query in queries:
        hits = retriever.search(query.q, limit=10)
        categories = top_categories(hits, 3)
        expected = (query.major, query.middle)
        cat1 += bool(categories) and categories[0] == expected
        cat3 += expected in categories
        if query.item:
            ids = [hit.item.id for hit in hits[:3]]
            item1 += bool(ids) and ids[0] == query.item
            item3 += query.item in ids
        if not categories or categories[0] != expected:
            misses.append(_describe_miss(query, hits))
    n, n_items = len(queries), max(1, len(with_item))
    return Report(cat1 / n, cat3 / n, item1 / n_items, item3 / n_items, misses)


def latency_ms(retriever: Retriever, queries: list[Query], rounds: int = 3) -> list[float]:
    timings: list[float] = []
    for _ in range(rounds):
        for query in queries:
            start = time.perf_counter()
            retriever.search(query.q, limit=5)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def _describe_miss(query: Query, hits: list[Hit]) -> str:
    got = ", ".join(f"{h.item.name}({h.item.middle})" for h in hits[:3])
    return f"{query.q!r}: expected {query.middle} -> {got}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lexical-only", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)

    queries = load_eval()
    start = time.perf_counter()
    knowledge = load_knowledge()
    embedder = None if args.lexical_only else load_embedder()
    retriever = Retriever(knowledge, embedder=embedder, cache_dir=args.cache_dir)
    build_s = time.perf_counter() - start
    retriever.search("워밍업", limit=1)  # first Kiwi call initialises its model

    report = evaluate(retriever, queries)
    timings = latency_ms(retriever, queries)
    mode = "hybrid (lexical + e5)" if retriever.uses_embeddings else "lexical only"
    print(f"mode: {mode}; items: {len(knowledge.items())}; queries: {len(queries)}")
    print(f"index build (load + tokenize + embed): {build_s:.2f} s")
    print(f"recall@1 category: {report.category_at_1:.3f}  @3: {report.category_at_3:.3f}")
    print(f"recall@1 item:     {report.item_at_1:.3f}  @3: {report.item_at_3:.3f}")
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"latency: mean {statistics.mean(timings):.1f} ms, p95 {p95:.1f} ms per query")
    if args.verbose:
        print("\n".join(report.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
