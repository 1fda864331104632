"""Korean answer templates for the offline assistant, written as CommonMark (:mod:`.render`):
every piece of user or knowledge text is escaped, particles follow the word before them
(:mod:`.korean`), and an item is called what the user called it."""

from __future__ import annotations

import re

from eco2.domains.character.schemas import Reward
from eco2.domains.chat.korean import attach, particle
from eco2.domains.chat.render import bold, bulleted, escape, numbered, paragraphs
from eco2.domains.chat.tools import Characters, Lookup
from eco2.domains.location.schemas import CenterEntry
from eco2.domains.scan.schemas import ScanResponse
from eco2.knowledge import Item, Rule

MAX_STEPS = 5
MAX_TIPS = 2

CAN_DO = bulleted(
    [
        "버리려는 물건의 이름이나 사진으로 분리배출 방법 알려 드리기",
        "가까운 수거함과 제로웨이스트 가게 찾기",
        "모은 캐릭터와 얻는 방법 보여 드리기",
    ]
)
GREETING = paragraphs(
    "안녕하세요! 분리배출 도우미 **이코**예요. 이런 걸 도와드릴 수 있어요.",
    CAN_DO,
    "예를 들어 “페트병 어떻게 버려요?”처럼 물어봐 주세요.",
)
THANKS = "천만에요! 또 헷갈리는 물건이 있으면 언제든 물어봐 주세요."
FAREWELL = "좋은 하루 보내세요! 분리배출이 헷갈릴 때 언제든 찾아 주세요."
OFF_TOPIC = paragraphs(
    "죄송해요, 그 질문은 제가 답하기 어려워요. "
    "저는 분리배출을 돕는 도우미라서 이런 걸 할 수 있어요.",
    CAN_DO,
    "버리려는 물건이나 가까운 수거함에 대해 물어봐 주세요!",
)
ASK_PLACE = (
    "가까운 곳을 찾으려면 위치가 필요해요. 위치 권한을 허용하거나 지도 화면에서 "
    "현재 위치를 확인해 주세요. 찾으시는 품목(예: 폐건전지, 투명 페트병)도 알려 주시면 "
    "그 품목을 받는 곳으로 골라 드릴게요."
)
RULES_EXPLAINED = {
    Rule.EMPTY: "용기 안의 내용물을 깨끗이 비워요.",
    Rule.RINSE: "음식물이나 이물질이 묻었으면 물로 가볍게 헹궈요.",
    Rule.SEPARATE: "라벨, 뚜껑처럼 재질이 다른 부분은 떼어서 따로 배출해요.",
    Rule.NO_MIX: "종류별로 나눠 정해진 수거함에 넣고, 재활용이 안 되는 것과 섞지 않아요.",
}
GENERAL = paragraphs(
    "분리배출은 네 가지만 기억하면 돼요.",
    numbered(f"**{rule.value}**: {RULES_EXPLAINED[rule]}" for rule in Rule),
    "이렇게 나눠 버린 자원은 새 제품의 원료로 다시 쓰여요. 재활용이 어려운 것은 종량제봉투에 "
    "버리고, 다회용기와 리필 가게를 이용하면 쓰레기 자체를 줄일 수 있어요.",
    "버리려는 물건 이름을 알려 주시거나 사진을 보내 주시면 품목별 배출 방법을 알려 드릴게요.",
)
RULE_LINE = "기억해 주세요: 비운다 · 헹군다 · 분리한다 · 섞지 않는다."
_SPACES = re.compile(r"\s+")
_THANKS = ("고마", "고맙", "감사", "땡큐", "thank")
_FAREWELLS = ("잘 가", "잘가", "바이", "bye", "좋은 하루", "안녕히", "수고")


def greeting(text: str) -> str:
    """Thanks are welcomed, goodbyes returned, anything else greeted with what we can do."""
    lowered = text.lower()
    if any(word in lowered for word in _THANKS):
        return THANKS
    if any(word in lowered for word in _FAREWELLS):
        return FAREWELL
    return GREETING


def _squash(text: str) -> str:
    return _SPACES.sub("", text).lower()


def as_named(item: Item, asked: str) -> str:
    """The item as the question named it: the longest of its names the question contains
    ("페트병은 어떻게 버려요?" → 페트병, not the knowledge base's 생수병), else its name."""
    compact = _squash(asked)
    named = [alias for alias in (item.name, *item.synonyms) if _squash(alias) in compact]
    if not named:
        return item.name
    # The longest; spelt as the question spells it; the item's own name on a tie.
    return max(named, key=lambda a: (len(_squash(a)), a in asked, a == item.name))


def category_of(major: str, middle: str) -> str:
    """ "재활용폐기물 중 **무색페트병**" (the particle after it follows the middle's name)."""
    if middle == major:
        return bold(escape(middle))
    return f"{escape(major)} 중 {bold(escape(middle))}"


def disposal(lookup: Lookup, asked: str) -> str:
    if lookup.item is None or lookup.rules is None:
        return no_answer(lookup.query)
    item, rules = lookup.item, lookup.rules
    name = as_named(item, asked)
    headline = (
        f"{bold(escape(name))}{particle(name, '은')} "
        f"{category_of(item.major, item.middle)}{particle(item.middle, '으로')} 분류돼요."
    )
    tips = " ".join(escape(t) for t in rules.tips[:MAX_TIPS])
    return paragraphs(
        headline,
        escape(item.note) if item.note else None,
        "배출 방법:",
        numbered(escape(step) for step in rules.common_steps[:MAX_STEPS]),
        f"참고: {tips}" if tips else None,
        RULE_LINE if rules.rules else None,
        f"(근거: 분리배출 지식베이스 「{escape(rules.title)}」)",
    )


def no_answer(query: str) -> str:
    shown = escape(query[:40]) or "그 물건"
    return (
        f"죄송해요, 지식베이스에서 ‘{shown}’에 대한 분리배출 정보를 찾지 못했어요. "
        "추측으로 안내하지 않을게요. 물건 이름이나 재질을 조금 더 구체적으로 알려 주시거나 "
        "사진을 보내 주세요."
    )


def photo(scan: ScanResponse) -> str:
    result = scan.pipeline_result
    if result is None:
        reason = escape(scan.error.message) if scan.error else ""
        return f"사진에서 물건을 알아보지 못했어요. {reason} 물건이 잘 보이게 다시 찍어 주세요."
    c = result.classification_result.classification
    headline = (
        f"사진 속 물건은 {bold(escape(c.minor_category))}{particle(c.minor_category, '으로')} "
        f"보여요. {category_of(c.major_category, c.middle_category)}"
        f"{particle(c.middle_category, '으로')} 배출해요."
    )
    steps = [s for s in result.final_answer.disposal_steps.values() if s]
    shortfalls = " ".join(escape(i) for i in result.final_answer.insufficiencies)
    return paragraphs(
        headline,
        "배출 방법:" if steps else None,
        numbered(escape(step) for step in steps[:MAX_STEPS]),
        f"아쉬운 점: {shortfalls}" if shortfalls else None,
        _reward(scan.reward),
        f"(근거: 분리배출 지식베이스 「{escape(result.disposal_rules.title)}」)",
    )


def _reward(reward: Reward | None) -> str | None:
    if reward is None or not reward.received:
        return None
    return (
        f"축하해요! 캐릭터 {bold(escape(reward.name))}{particle(reward.name, '을')} 새로 얻었어요."
    )


def nearby(places: list[CenterEntry], what: str | None) -> str:
    target = f"{bold(escape(what))}{particle(what, '을')} 받는 " if what else ""
    if not places:
        return (
            f"주변 3km 안에서 {target}수거 장소를 찾지 못했어요. 지도 화면에서 범위를 넓혀 "
            "찾아보시거나, 일반 품목은 거주지 분리수거장에 배출해 주세요."
        )
    lines = []
    for place in places:
        distance = f" ({escape(place.distance_text)})" if place.distance_text else ""
        address = escape(place.road_address or place.lot_address or "")
        lines.append(f"{bold(escape(place.name))}{distance} {address}".rstrip())
    return paragraphs(f"가까운 {target}곳을 찾았어요.", numbered(lines))


def characters(found: Characters, asked_owned: bool) -> str:
    owned = {c.name for c in found.owned}
    names = ", ".join(escape(name) for name in sorted(owned))
    count = bold(str(len(owned)))
    head = f"지금까지 캐릭터 {count}명을 모았어요 (전체 {len(found.catalog)}명): {names}"
    hints = None
    if not asked_owned:
        missing = [c for c in found.catalog if c.name not in owned and c.middle_category]
        hints = bulleted(
            f"{bold(escape(c.name))}: {escape(attach(c.middle_category or '', '을'))} "
            "올바르게 배출하면 만날 수 있어요."
            for c in missing[:4]
        )
    return paragraphs(
        head,
        hints,
        "물건을 올바르게 분리배출하고 사진으로 확인하면 그 품목의 캐릭터를 만날 수 있어요.",
    )
