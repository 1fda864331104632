"""Answers are CommonMark that reads well in both web clients.

- The session API's client renders the answer as Markdown: paragraphs and lists are separated
  by blank lines, and bold is written so CommonMark closes it (a ``**`` run closes only when
  it is not preceded by punctuation that a letter follows: ``**병(투명)**은`` stays literal,
  so a bold span starts and ends with a letter or digit: ``**병**(투명)은``).
- The legacy client (contract §3.11) sets ``user_answer`` as HTML after turning ``**x**`` into
  a span itself: everything inserted is HTML-escaped, and :func:`legacy_html` turns the line
  breaks into ``<br/>`` (HTML would run the lines together).

Text from outside (knowledge, the user's words, place names) goes through :func:`escape`:
HTML-escaped, and Markdown's active characters written as character references, which both
clients show as the plain character.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

_UNSAFE_MARKDOWN = re.compile(r"`+|^#{1,6}\s+", re.MULTILINE)
_MARKDOWN_ACTIVE = {ord(c): f"&#{ord(c)};" for c in "*_`[]~|\\#"}
_ENTITY = re.compile(r"&#?\w+;")
_ENTITY_AT_END = re.compile(r"&#?\w+;$")
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
_BLANK_LINES = re.compile(r"\n{3,}")


def escape(text: str) -> str:
    """Plain text for an answer: no HTML, no Markdown (works piecewise, chunk by chunk)."""
    return html.escape(text, quote=True).translate(_MARKDOWN_ACTIVE)


def clean(text: str) -> str:
    """A model's reply as we show it: its Markdown kept (no code fences or headings), HTML
    escaped."""
    return html.escape(_UNSAFE_MARKDOWN.sub("", text), quote=True)


def _is_edge(char: str) -> bool:
    """Whitespace or Unicode punctuation/symbols: what CommonMark's flanking rules look at."""
    return char.isspace() or unicodedata.category(char)[0] in "PSZ"


def bold(text: str) -> str:
    """Bold an escaped fragment so that CommonMark closes it wherever it stands: punctuation
    at either end (a trailing "(…)" group whole) stays outside the span."""
    text = text.replace("*", "")
    core, suffix = text, ""
    if core.endswith(")") and "(" in core[1:]:
        cut = core.rindex("(")
        core, suffix = core[:cut], core[cut:]
    start, end = 0, len(core)
    while start < end:  # an entity is escaped punctuation (&quot;, &#42;): outside too
        entity = _ENTITY.match(core, start, end)
        if entity is None and not _is_edge(core[start]):
            break
        start = entity.end() if entity else start + 1
    while end > start:
        entity = _ENTITY_AT_END.search(core, start, end)
        if entity is None and not _is_edge(core[end - 1]):
            break
        end = entity.start() if entity else end - 1
    if start >= end:
        return text
    return f"{core[:start]}**{core[start:end]}**{core[end:]}{suffix}"


def fix_bold(markdown: str) -> str:
    """A model's ``**…**`` spans rewritten as :func:`bold` writes them."""
    return _BOLD.sub(lambda found: bold(found[1]), markdown)


def numbered(lines: Iterable[str]) -> str:
    """An ordered list of already-escaped lines."""
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


def bulleted(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def paragraphs(*blocks: str | None) -> str:
    """Blocks (paragraphs, lists) separated by a blank line, empty ones left out."""
    return "\n\n".join(block.strip() for block in blocks if block and block.strip())


def legacy_html(markdown: str) -> str:
    """The legacy client's ``user_answer``: HTML, so line breaks become ``<br/>``."""
    return _BLANK_LINES.sub("\n\n", markdown.strip()).replace("\n", "<br/>")
