"""Prompts for the OpenAI providers. Answers may rely on the supplied rules only."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eco2.domains.scan.providers.base import Grounding, Observation
from eco2.knowledge import KnowledgeBase

CONDITION_GUIDE = (
    "contents_left: 내용물이 남아 있음; food_contamination: 음식물·기름 오염; "
    "label_attached: 다른 재질 라벨·스티커가 붙어 있음; cap_attached: 다른 재질 뚜껑이 닫혀 있음; "
    "pump_attached: 펌프·스프링 부품; mixed_material: 여러 재질이 섞임; "
    "broken_glass: 깨진 유리·날카로운 면; gas_left: 캔에 가스가 남음; "
    "battery_inside: 제품 안에 전지; bulky: 봉투에 들어가지 않는 큰 크기"
)


@lru_cache(maxsize=4)
def vision_instructions(kb: KnowledgeBase) -> str:
    lines = [f"- {c.major} > {c.middle}: {', '.join(c.minors)}" for c in kb.categories()]
    return (
        "당신은 한국 생활폐기물 분리배출 판별기입니다. 사진 속 주된 물건 하나를 아래 분류 체계의 "
        "대분류·중분류·소분류로 판별하세요. 분류 체계에 없는 값은 쓰지 마세요. 판별할 수 없으면 "
        "미분류를 고르세요. 사진에서 실제로 보이는 상태만 conditions에 넣으세요 "
        f"({CONDITION_GUIDE}). confidence는 0~1 사이 확신도입니다.\n분류 체계:\n" + "\n".join(lines)
    )


def vision_request(user_input: str | None) -> str:
    if user_input and user_input.strip():
        return f"사용자 설명: {user_input.strip()}\n이 물건을 분류해 주세요."
    return "이 물건을 분류해 주세요."


ANSWER_INSTRUCTIONS = (
    "당신은 한국 분리배출 안내원입니다. 입력 JSON의 rules와 corrections, item_note에 적힌 내용만 "
    "근거로 답하세요. 규칙에 없는 내용은 지어내지 마세요. disposal_steps에는 이 물건을 올바르게 "
    "배출하는 단계를 순서대로 한 문장씩 쓰고(최대 6단계, 쓰지 않는 단계는 null), 감지된 상태를 "
    "고치는 단계를 먼저 쓰세요. insufficiencies에는 acceptable이 false인 감지 상태마다 아쉬운 점을 "
    "한국어 한 문장으로 쓰고, 없으면 빈 배열로 두세요. user_answer는 3문장 이하의 친근한 한국어 "
    "안내입니다."
)


def answer_context(observation: Observation, grounding: Grounding) -> dict[str, Any]:
    rules = grounding.rules
    return {
        "classification": {
            "major_category": observation.major,
            "middle_category": observation.middle,
            "minor_category": observation.minor,
        },
        "rules": {
            "title": rules.title,
            "summary": rules.summary,
            "targets": rules.targets,
            "common_steps": rules.common_steps,
            "sub_kinds": [{"name": s.name, "steps": s.steps} for s in rules.sub_kinds],
            "look_alikes": [f"{a.item}: {a.reason}" for a in rules.look_alikes],
            "tips": rules.tips,
            "four_rules": [str(r) for r in rules.rules],
        },
        "item_note": grounding.item_note,
        "corrections": [
            {"condition": str(c), "correction": fix, "insufficiency": why, "acceptable": ok}
            for c, (fix, why, ok) in grounding.corrections.items()
        ],
    }
