"""waste: the knowledge base of Korean household waste and its offline retrieval.

- ``knowledge.load_knowledge()`` -> ``KnowledgeBase``: taxonomy, rules per category, items,
  situation-tag corrections (validated YAML in ``data/``).
- ``retrieval.search(text, limit)`` -> ``list[Hit]``: hybrid lexical + embedding ranking.
"""
