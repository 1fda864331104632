"""The offline intent classifier: keyword cues first, then knowledge-retrieval evidence.

Deterministic and explainable: every decision is one rule below, in priority order. A message
is about disposal only when it says so (a disposal word) or names a known item in its own
words: retrieval alone matches stray syllables ("로또 번호" ~ "은행 번호표"), so without either
a message is small talk or off-topic.
"""

from __future__ import annotations

import re

from eco2.domains.chat.schemas import Intent
from eco2.knowledge import Hit, nouns_async

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
    "ㅎㅇ",
    "헬로",
    "반가",
    "반갑",
    "고마",
    "고맙",
    "감사",
    "땡큐",
    "누구",
    "뭘 할 수",
    "뭐 할 수",
    "무엇을 할 수",
    "물어볼 수",
    "도와줄",
    "도와 줄",
    "사용법",
    "잘 부탁",
    "좋은 아침",
    "좋은 하루",
    "수고",
    "잘 지냈",
    "처음 왔",
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
# Subjects the assistant does not cover; a message with one and no disposal word is declined
# even when a word of it is also an item's name ("미세먼지" holds 먼지, "비 와" looks like 비닐).
OFF_TOPIC_CUES = (
    # weather
    "날씨", "기온", "비 와", "비와", "비가 와", "비 오", "비오는", "눈 와", "눈와", "눈이 와",
    "눈 오", "태풍", "장마", "미세먼지", "황사", "일기예보",
    # money
    "주식", "주가", "코인", "환율", "금리", "부동산", "집값", "펀드", "투자", "코스피", "나스닥",
    "적금", "대출",
    # luck
    "로또", "복권", "당첨번호", "당첨 번호", "운세", "타로", "별자리",
    # sports and entertainment
    "축구", "야구", "농구", "배구", "경기 결과", "월드컵", "올림픽", "영화", "드라마", "노래",
    "가수", "아이돌", "넷플릭스", "유튜브", "웹툰", "게임 추천",
    # food
    "메뉴", "맛집", "레시피", "뭐 먹", "배고파", "식단", "다이어트",
    # study and work
    "코드 짜", "코딩", "파이썬", "프로그래밍", "엑셀", "번역", "영어로", "수학", "숙제", "계산해",
    # everyday life
    "여행지", "비행기", "항공권", "호텔", "숙소", "선물 추천", "연애", "여자친구", "남자친구",
)  # fmt: skip
# Words a recycling question uses without naming an item: with nothing else named it asks
# about recycling in general ("분리수거 기본 원칙", "재활용 왜 해야 해?").
_GENERAL = """
분리수거 분리배출 분리 배출 재활용 쓰레기 폐기물 원칙 규칙 기본 방법 요령 주의 주의점 이유
팁 꿀팁 효과 장점 도움 습관 생활 환경 지구 자원 법 점 것 거 뭐 때 수 처리 수거 정리
"""
GENERAL_NOUNS = frozenset(_GENERAL.split())
STRONG_LEXICAL = 0.5  # the message names a known item (bigram noise stays below)
GROUNDED = 0.3  # the words rest on an item (as the knowledge lookup requires)
OPENERS = ("안녕", "하이", "반가", "고마", "감사", "hello", "hi ", "ㅎㅇ")
_SPACES = re.compile(r"\s+")
# A character's name as a word of its own: alone or before a particle.
_CHARACTER_NAMED = re.compile(
    rf"(?:{'|'.join(CHARACTER_NAMES)})(?:[이가은는을를의도랑와과야]|\s|$|\?)"
)


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _names_character(text: str) -> bool:
    return _CHARACTER_NAMED.search(text) is not None


def is_nearby(text: str) -> bool:
    near = _has(text, NEAR_WORDS)
    place = _has(text, PLACE_NOUNS)
    return (near and (place or _has(text, WHERE_WORDS))) or (place and _has(text, WHERE_WORDS))


def names_item(text: str, hits: list[Hit]) -> bool:
    """The message writes out one of the retrieved items' names or synonyms."""
    compact = _SPACES.sub("", text.lower())
    return any(
        len(alias) >= 2 and alias in compact
        for hit in hits[:3]
        if hit.lexical >= GROUNDED
        for alias in (_SPACES.sub("", a.lower()) for a in (hit.item.name, *hit.item.synonyms))
    )


async def asks_in_general(text: str) -> bool:
    """Nothing but recycling's own vocabulary: no item, no material, no place."""
    return all(word in GENERAL_NOUNS for word in await nouns_async(text))


async def classify(
    text: str, *, has_image: bool, hits: list[Hit], follow_up: bool = False
) -> Intent:
    """The message's intent; ``hits`` are the knowledge items retrieved for it."""
    lowered = text.lower().strip()
    if has_image:
        return "photo"
    if not lowered:
        return "greeting"
    if is_nearby(lowered):
        return "nearby"
    strong = bool(hits) and hits[0].lexical >= STRONG_LEXICAL
    named = names_item(lowered, hits)
    asks_disposal = _has(lowered, DISPOSAL_WORDS)
    if lowered.startswith(OPENERS) and not (asks_disposal or named):
        return "greeting"
    if _has(lowered, CHARACTER_WORDS) or (_names_character(lowered) and not strong):
        return "character"
    if _has(lowered, OFF_TOPIC_CUES) and not asks_disposal:
        return "off_topic"
    if asks_disposal and not named and await asks_in_general(lowered):
        return "general"
    if asks_disposal or named or follow_up:
        return "disposal"
    if _has(lowered, GREETINGS):
        return "greeting"
    if strong and len(lowered) <= 12:
        return "disposal"  # a bare item name, maybe misspelt ("택베상자")
    return "off_topic"
