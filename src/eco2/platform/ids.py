"""Identifiers arriving as strings: a path segment, a token's subject, an internal call.

One behaviour everywhere: a malformed id names nothing that exists, so it is the same 404 (with
the resource's code) as a well-formed unknown one; never a 422 that tells ids apart by shape,
never a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from eco2.platform.errors import NotFound


def parse_id(value: str, not_found: Callable[[], NotFound]) -> uuid.UUID:
    """The UUID in ``value``; anything else raises ``not_found()``."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found() from None


def user_not_found() -> NotFound:
    return NotFound("사용자를 찾을 수 없습니다.", code="user_not_found")


def parse_user_id(value: str) -> uuid.UUID:
    return parse_id(value, user_not_found)
