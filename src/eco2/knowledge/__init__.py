"""The knowledge base of Korean household waste and its offline retrieval: a library.

Not a domain: it holds no user data and has no port. Every process ships the same validated
files, so scan, chat and the ``info`` domain call it in-process. They import it only from this
module (an import contract); the submodules are private.

- ``load_knowledge()`` -> ``KnowledgeBase``: taxonomy, rules per category, items,
  situation-tag corrections (validated YAML in ``data/``).
- ``search(text, limit)`` -> ``list[Hit]``: hybrid lexical + embedding ranking; the items'
  embeddings ship with the package (``write_bundled_index``, ``eco2 data embed-knowledge``).
  ``search_async``: the same on an event loop, with no thread hop for a query seen before.
- ``nouns(text)``: the nouns of any Korean text, from the same Kiwi analyzer retrieval uses
  (one per process, in a child process: it is large and loads for seconds holding the GIL),
  e.g. for news keywords; servers start loading it first thing (``eco2.serving``);
  ``nouns_async`` awaits it on an event loop.
- ``PICKUP_CATEGORIES``: the map filter keys the web client knows, which the taxonomy's
  middles point to.
"""

from eco2.knowledge.base import Category, KnowledgeBase, KnowledgeError, load_knowledge
from eco2.knowledge.lexical import nouns, nouns_async
from eco2.knowledge.retrieval import (
    Hit,
    Retriever,
    bundled_index_file,
    bundled_morphemes_file,
    default_retriever,
    search,
    search_async,
    top_categories,
    write_bundled_index,
)
from eco2.knowledge.schema import (
    PICKUP_CATEGORIES,
    Condition,
    Correction,
    Item,
    PickupCategory,
    Rule,
    RulesDoc,
)

__all__ = [
    "PICKUP_CATEGORIES",
    "Category",
    "Condition",
    "Correction",
    "Hit",
    "Item",
    "KnowledgeBase",
    "KnowledgeError",
    "PickupCategory",
    "Retriever",
    "Rule",
    "RulesDoc",
    "bundled_index_file",
    "bundled_morphemes_file",
    "default_retriever",
    "load_knowledge",
    "nouns",
    "nouns_async",
    "search",
    "search_async",
    "top_categories",
    "write_bundled_index",
]
