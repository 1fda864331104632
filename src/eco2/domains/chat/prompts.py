"""What the language model is told: the system prompt (with the running summary) and tools."""

from __future__ import annotations

from typing import Any

from eco2.domains.chat.context import History
from eco2.domains.chat.schemas import Intent

SYSTEM = (
    "너는 한국 생활폐기물 분리배출 도우미 '이코'야. 한국어로 짧고 친절하게 답해.\n"
    "- 분리배출 질문에는 반드시 search_waste_rules 도구로 지식베이스를 찾아보고, 찾은 규칙만 "
    "근거로 답하며 근거가 된 분류(대분류/중분류)를 밝혀. 지식베이스에 없으면 모른다고 말해.\n"
    "- 사진이 있으면 classify_photo, 가까운 수거함·가게는 find_nearby_places, 캐릭터는 "
    "list_characters 도구를 써.\n"
    "- 분리배출과 무관한 질문(주식, 날씨, 복권 등)에는 답하지 말고 정중히 거절한 뒤, 네가 "
    "도울 수 있는 일(배출 방법, 가까운 수거함·가게, 캐릭터)을 알려 줘.\n"
    "- 사용자가 부른 품목 이름을 그대로 써 (페트병이라고 물으면 페트병이라고 답해).\n"
    "- 조사는 앞말의 받침에 맞춰 하나만 써 (은/는, 이/가, 을/를, 으로/로). '은(는)'처럼 "
    "둘 다 쓰지 마.\n"
    "- 문단과 목록 사이에는 빈 줄을 넣고, 목록은 '1. ' 또는 '- '로 시작해.\n"
    "- 강조는 **굵게**만 쓰고 다른 마크다운이나 HTML은 쓰지 마."
)

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_waste_rules",
            "description": "분리배출 지식베이스에서 품목의 분류와 배출 방법을 찾는다.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "품목 이름이나 질문"}},
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "classify_photo",
            "description": "사용자가 보낸 사진 속 물건을 분류하고 배출 방법을 만든다.",
            "parameters": {
                "type": "object",
                "properties": {"note": {"type": "string", "description": "사용자의 설명"}},
                "required": [],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "find_nearby_places",
            "description": "사용자 위치 근처의 수거함·재활용센터·제로웨이스트 가게를 찾는다.",
            "parameters": {
                "type": "object",
                "properties": {
                    "item": {"type": "string", "description": "버리려는 품목 (없으면 빈 문자열)"},
                    "shop": {"type": "boolean", "description": "제로웨이스트·리필 가게를 찾는지"},
                },
                "required": ["item"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_characters",
            "description": "캐릭터 도감과 사용자가 모은 캐릭터를 보여 준다.",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    },
]

TOOL_INTENT: dict[str, Intent] = {
    "search_waste_rules": "disposal",
    "classify_photo": "photo",
    "find_nearby_places": "nearby",
    "list_characters": "character",
}


def system_prompt(history: History) -> str:
    """Bounded: the running summary and the current topic, never the whole chat."""
    lines = [SYSTEM]
    if history.summary:
        lines.append(history.summary)
    if history.topic:
        lines.append(f"직전 답변의 품목: {history.topic.item} ({history.topic.middle})")
    return "\n".join(lines)
