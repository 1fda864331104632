"""Friendly generated Korean eco nicknames for users whose provider gave none."""

from __future__ import annotations

import secrets

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
