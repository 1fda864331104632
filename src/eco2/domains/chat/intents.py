"""The offline intent classifier: keyword cues first, then knowledge-retrieval confidence.

Deterministic and explainable: every decision is one rule below, in priority order.
"""

from __future__ import annotations

import re

from eco2.domains.chat.schemas import Intent
from eco2.knowledge import Hit

PLACE_NOUNS = (
    "수거함",
    "센터",
    "가게",
    "매장",
    "샵",
    "리필",
    "제로웨이스트",
    "제로 웨이스트",
    "수거 장소",
    "버릴 곳",
    "버릴 데",
    "버리는 곳",
    "재활용센터",
    "무인회수기",
    "회수기",
)
NEAR_WORDS = ("근처", "가까운", "가까이", "주변", "동네", "근방", "인근", "위치", "지도")
WHERE_WORDS = ("어디", "찾아", "알려줘", "있나", "있어")
CHARACTER_WORDS = ("캐릭터", "도감", "컬렉션", "마스코트", "수집", "모은", "모았")
CHARACTER_NAMES = (
    "이코",
    "페이피",
    "팩토리",
    "페티",
    "글래시",
    "코튼",
    "플리",
    "메탈리",
    "배리",
    "라이티",
    "일렉",
    "폼이",
)
GREETINGS = (
    "안녕",
    "하이",
    "hello",
    "hi",
    "반가",
    "고마",
    "감사",
    "땡큐",
    "누구",
    "뭘 할 수",
    "뭐 할 수",
    "무엇을 할 수",
    "도와줄",
    "사용법",
    "잘 부탁",
    "좋은 아침",
    "수고",
)
DISPOSAL_WORDS = (
    "버려",
    "버리",
    "버릴",
    "배출",
    "분리수거",
    "분리 배출",
    "재활용",
    "쓰레기",
    "종량제",
    "음식물",
    "폐기",
    "수거",
    "어떻게 처리",
    "헹궈",
    "씻어",
    "떼야",
    "떼어",
)
STRONG_LEXICAL = 0.5  # the message names a known item (bigram noise stays below)
OPENERS = ("안녕", "하이", "반가", "고마", "감사", "hello", "hi ")


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _names_character(text: str) -> bool:
    return any(
        re.search(rf"{name}(?:[이가은는을를의도랑와과야]|\s|$|\?)", text)
        for name in CHARACTER_NAMES
    )


def is_nearby(text: str) -> bool:
    near = _has(text, NEAR_WORDS)
    place = _has(text, PLACE_NOUNS)
    return (near and (place or _has(text, WHERE_WORDS))) or (place and _has(text, WHERE_WORDS))


def classify(text: str, *, has_image: bool, hits: list[Hit], follow_up: bool = False) -> Intent:
    """The message's intent; ``hits`` are the knowledge items retrieved for it."""
    lowered = text.lower().strip()
    strong = bool(hits) and hits[0].lexical >= STRONG_LEXICAL
    if has_image:
        return "photo"
    if is_nearby(lowered):
        return "nearby"
    if lowered.startswith(OPENERS):
        return "greeting"
    if _has(lowered, CHARACTER_WORDS) or (_names_character(lowered) and not strong):
        return "character"
    if _has(lowered, DISPOSAL_WORDS) or strong or follow_up:
        return "disposal"
    if _has(lowered, GREETINGS) or not lowered:
        return "greeting"
    if hits and hits[0].lexical >= STRONG_LEXICAL and len(lowered) <= 12:
        return "disposal"  # a bare item name ("영수증?")
    return "off_topic"
