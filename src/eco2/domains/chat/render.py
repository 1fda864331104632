"""``user_answer`` is rendered by the client as HTML: everything is escaped, and the only
markup left is ``**bold**`` (plain asterisks, which the client turns into a span)."""

from __future__ import annotations

import html
import re

_UNSAFE_MARKDOWN = re.compile(r"`+|^#{1,6}\s+", re.MULTILINE)


def escape(text: str) -> str:
    """Escape one piece of text (works piecewise: streamed chunks escape independently)."""
    return html.escape(text, quote=True)


def clean(text: str) -> str:
    """A model's reply as we show it: no code fences or headings, then escaped."""
    return escape(_UNSAFE_MARKDOWN.sub("", text))


def bold(text: str) -> str:
    """Bold an already-escaped fragment; ``*`` inside it would break the pairing."""
    return f"**{text.replace('*', '')}**"
