"""Nicknames: the one rule every nickname follows (chosen by the user, given by a provider,
typed at the local sign-in), and friendly generated ones for users whose provider gave none."""

from __future__ import annotations

import secrets
import unicodedata

from eco2.platform.errors import InvalidInput

NICKNAME_MAX = 20


def clean_nickname(raw: str) -> str:
    """NFC, trimmed, 1-20 characters, no control or format characters; else 422."""
    nickname = unicodedata.normalize("NFC", raw).strip()
    if not 1 <= len(nickname) <= NICKNAME_MAX:
        raise InvalidInput(
            f"닉네임은 1~{NICKNAME_MAX}자로 입력해 주세요.",
            code="invalid_nickname",
            field="nickname",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in nickname):
        raise InvalidInput(
            "닉네임에 사용할 수 없는 문자가 있습니다.", code="invalid_nickname", field="nickname"
        )
    return nickname


_ADJECTIVES = (
    "초록",
    "푸른",
    "맑은",
    "싱그러운",
    "반짝이는",
    "부지런한",
    "다정한",
    "씩씩한",
    "상쾌한",
    "깨끗한",
    "포근한",
    "알뜰한",
    "용감한",
    "산뜻한",
    "든든한",
    "빛나는",
)
_NOUNS = (
    "나무",
    "새싹",
    "고래",
    "펭귄",
    "다람쥐",
    "꿀벌",
    "숲",
    "바다",
    "햇살",
    "구름",
    "도토리",
    "민들레",
    "해달",
    "두루미",
    "반딧불",
    "솔방울",
)


def eco_nickname() -> str:
    """e.g. "초록고래 4821": at most 20 characters, random enough to rarely collide."""
    return f"{secrets.choice(_ADJECTIVES)}{secrets.choice(_NOUNS)} {secrets.randbelow(9000) + 1000}"
