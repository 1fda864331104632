from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import msgspec

from eco2.domains.users.nicknames import clean_nickname
from eco2.platform.errors import InvalidInput

_MOBILE = re.compile(r"^01[016789]\d{7,8}$")


class UserProfile(msgspec.Struct):
    username: str
    nickname: str
    phone_number: str | None
    provider: str
    profile_image_url: str | None
    last_login_at: datetime


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /user/me``: at least one of the fields; anything else is refused."""

    nickname: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    phone_number: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )

    def cleaned(self) -> dict[str, str | None]:
        changes: dict[str, str | None] = {}
        if self.nickname is not msgspec.UNSET:
            changes["nickname"] = clean_nickname(self.nickname)
        if self.phone_number is not msgspec.UNSET:
            changes["phone_number"] = normalise_phone(self.phone_number)
        if not changes:
            raise InvalidInput(
                "변경할 항목(nickname, phone_number)이 없습니다.", code="empty_update"
            )
        return changes


def normalise_phone(raw: str | None) -> str | None:
    """Korean mobile numbers, stored as plain digits (``01012345678``); blank clears it."""
    if raw is None or not raw.strip():
        return None
    digits = re.sub(r"[\s\-().]", "", raw.strip())
    if digits.startswith("+82"):
        digits = "0" + digits[3:]
    if not _MOBILE.match(digits):
        raise InvalidInput(
            "휴대전화 번호 형식이 올바르지 않습니다. 예: 010-1234-5678",
            code="invalid_phone_number",
            field="phone_number",
        )
    return digits


class LoginProfile(msgspec.Struct):
    """What auth learned from the identity provider at sign-in."""

    provider: str
    nickname: str | None = None
    email: str | None = None
    profile_image_url: str | None = None


class LoginRecord(msgspec.Struct):
    user_id: str | None
    profile: LoginProfile


class LoginResult(msgspec.Struct):
    user_id: str
    created: bool
