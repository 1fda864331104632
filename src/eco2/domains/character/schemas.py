from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec


class CatalogCharacter(msgspec.Struct):
    code: str
    name: str
    type: str
    dialog: str
    middle_category: str | None


class OwnedCharacter(msgspec.Struct):
    id: str
    code: str
    name: str
    type: str
    dialog: str
    acquired_at: datetime


class GrantRequest(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    middle_category: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    source_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Reward(msgspec.Struct):
    """What scan shows after a good sort (contract §3.10 and §7)."""

    received: bool
    already_owned: bool
    name: str
    dialog: str
    match_reason: str
    type: str


class GrantResult(msgspec.Struct):
    reward: Reward | None


class Ack(msgspec.Struct):
    ok: bool = True
