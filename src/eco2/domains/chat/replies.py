"""Korean answer templates for the offline assistant. Every piece of user or knowledge text is
escaped here; the only markup is ``**bold**``."""

from __future__ import annotations

from eco2.domains.character.schemas import Reward
from eco2.domains.chat.render import bold, escape
from eco2.domains.chat.tools import Characters, Lookup
from eco2.domains.location.schemas import CenterEntry
from eco2.domains.scan.schemas import ScanResponse

MAX_STEPS = 5
MAX_TIPS = 2

GREETING = (
    "안녕하세요! 분리배출 도우미 **이코**예요. 버리려는 물건 이름을 알려 주시거나 사진을 "
    "보내 주시면 배출 방법을 알려 드릴게요. 가까운 수거함이나 제로웨이스트 가게, "
    "모은 캐릭터도 물어보실 수 있어요."
)
OFF_TOPIC = (
    "죄송해요, 저는 분리배출과 재활용을 돕는 도우미라서 그 질문에는 답하기 어려워요. "
    "버리려는 물건이나 가까운 수거함에 대해 물어봐 주세요!"
)
ASK_PLACE = (
    "가까운 곳을 찾으려면 위치가 필요해요. 위치 권한을 허용하거나 지도 화면에서 "
    "현재 위치를 확인해 주세요. 찾으시는 품목(예: 폐건전지, 투명 페트병)도 알려 주시면 "
    "그 품목을 받는 곳으로 골라 드릴게요."
)
RULE_LINE = "기억해 주세요: 비운다 · 헹군다 · 분리한다 · 섞지 않는다."


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{n}. {escape(line)}" for n, line in enumerate(lines, 1))


def disposal(lookup: Lookup) -> str:
    if lookup.item is None or lookup.rules is None:
        return no_answer(lookup.query)
    item, rules = lookup.item, lookup.rules
    category = f"{item.major}({item.middle})" if item.middle != item.major else item.major
    parts = [f"{bold(escape(item.name))}은(는) {bold(escape(category))}로 분류돼요."]
    if item.note:
        parts.append(escape(item.note))
    parts.append(f"배출 방법:\n{_numbered(rules.common_steps[:MAX_STEPS])}")
    if rules.tips:
        parts.append("참고: " + " ".join(escape(t) for t in rules.tips[:MAX_TIPS]))
    if rules.rules:
        parts.append(RULE_LINE)
    parts.append(f"(근거: 분리배출 지식베이스 「{escape(rules.title)}」)")
    return "\n".join(parts)


def no_answer(query: str) -> str:
    shown = escape(query[:40]) or "그 물건"
    return (
        f"죄송해요, 지식베이스에서 '{shown}'에 대한 분리배출 정보를 찾지 못했어요. "
        "추측으로 안내하지 않을게요. 물건 이름이나 재질을 조금 더 구체적으로 알려 주시거나 "
        "사진을 보내 주세요."
    )


def photo(scan: ScanResponse) -> str:
    result = scan.pipeline_result
    if result is None:
        reason = escape(scan.error.message) if scan.error else ""
        return f"사진에서 물건을 알아보지 못했어요. {reason} 물건이 잘 보이게 다시 찍어 주세요."
    c = result.classification_result.classification
    category = f"{c.major_category}({c.middle_category})"
    parts = [f"사진 속 물건은 {bold(escape(c.minor_category))}({bold(escape(category))})로 보여요."]
    steps = list(result.final_answer.disposal_steps.values())
    if steps:
        parts.append(f"배출 방법:\n{_numbered(steps[:MAX_STEPS])}")
    if result.final_answer.insufficiencies:
        parts.append(
            "아쉬운 점: " + " ".join(escape(i) for i in result.final_answer.insufficiencies)
        )
    parts.append(_reward(scan.reward))
    parts.append(f"(근거: 분리배출 지식베이스 「{escape(result.disposal_rules.title)}」)")
    return "\n".join(p for p in parts if p)


def _reward(reward: Reward | None) -> str:
    if reward is None:
        return ""
    if reward.received:
        return f"축하해요! 캐릭터 {bold(escape(reward.name))}를 새로 얻었어요."
    return ""


def nearby(places: list[CenterEntry], what: str | None) -> str:
    target = f"{bold(escape(what))}을(를) 받는 " if what else ""
    if not places:
        return (
            f"주변 3km 안에서 {target}수거 장소를 찾지 못했어요. 지도 화면에서 범위를 넓혀 "
            "찾아보시거나, 일반 품목은 거주지 분리수거장에 배출해 주세요."
        )
    lines = [f"가까운 {target}곳을 찾았어요."]
    for n, place in enumerate(places, 1):
        distance = f" ({escape(place.distance_text)})" if place.distance_text else ""
        address = escape(place.road_address or place.lot_address or "")
        lines.append(f"{n}. {bold(escape(place.name))}{distance} {address}".rstrip())
    return "\n".join(lines)


def characters(found: Characters, asked_owned: bool) -> str:
    owned = {c.name for c in found.owned}
    names = ", ".join(escape(name) for name in sorted(owned))
    count = bold(str(len(owned)))
    lines = [f"지금까지 캐릭터 {count}명을 모았어요 (전체 {len(found.catalog)}명): {names}"]
    if not asked_owned:
        missing = [c for c in found.catalog if c.name not in owned and c.middle_category]
        for c in missing[:4]:
            how = f"{escape(c.middle_category or '')}을(를) 올바르게 배출하면 만날 수 있어요."
            lines.append(f"- {bold(escape(c.name))}: {how}")
    lines.append(
        "물건을 올바르게 분리배출하고 사진으로 확인하면 그 품목의 캐릭터를 만날 수 있어요."
    )
    return "\n".join(lines)
