"""Identifiers arriving as strings (tokens, paths, internal calls)."""

from __future__ import annotations

import uuid

from eco2.platform.errors import InvalidInput


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """The UUID in ``value``; anything else is a 422 naming ``field``."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{field} 형식이 올바르지 않습니다.", field=field) from exc
