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

from eco2.knowledge import Retriever, load_knowledge
from eco2.knowledge.embedding import load_embedder
from eco2.knowledge.evaluation import evaluate, latencies_ms, load_eval

EVAL_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "retrieval_eval.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lexical-only", action="store_true", help="skip the e5 embeddings")
    parser.add_argument("--cache-dir", type=Path, default=None, help="item embedding cache")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)

    queries = load_eval(EVAL_FILE)
    start = time.perf_counter()
    knowledge = load_knowledge()
    embedder = None if args.lexical_only else load_embedder()
    retriever = Retriever(knowledge, embedder=embedder, cache_dir=args.cache_dir)
    build_s = time.perf_counter() - start
    retriever.search("워밍업", limit=1)  # the first Kiwi call initialises its model

    timings = latencies_ms(retriever, queries)  # first sight of each text: nothing cached
    mode = "hybrid (lexical + e5)" if retriever.uses_embeddings else "lexical only"
    print(f"mode: {mode}; items: {len(knowledge.items())}")
    print(f"index build (load + tokenize + embed): {build_s:.2f} s")
    splits = {"all": queries} | {
        s: [q for q in queries if q.split == s] for s in ("dev", "holdout")
    }
    for name, subset in splits.items():
        report = evaluate(retriever, subset)
        print(
            f"[{name:7}] n={report.queries:3}  recall@1/@3 category: "
            f"{report.category_at_1:.3f} / {report.category_at_3:.3f}   "
            f"item: {report.item_at_1:.3f} / {report.item_at_3:.3f}"
        )
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"latency: mean {statistics.mean(timings):.1f} ms, p95 {p95:.1f} ms per query")
    if args.verbose:
        print("\n".join(evaluate(retriever, queries).misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
