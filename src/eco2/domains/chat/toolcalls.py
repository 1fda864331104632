"""The model's tool calls, run against our own data; results go back to it as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from eco2.domains.chat.assistant import Turn
from eco2.domains.chat.context import History, Topic
from eco2.domains.chat.schemas import Intent
from eco2.domains.chat.tools import Toolbox


@dataclass
class ToolState:
    """What the tools found, for the stored reply: intent, category and topic."""

    intent: Intent | None = None
    category: str | None = None
    topic: Topic | None = None


async def run_tool(
    tools: Toolbox, name: str, args: dict[str, Any], turn: Turn, history: History, state: ToolState
) -> dict[str, Any]:
    if name == "search_waste_rules":
        return await _search(tools, str(args.get("query") or turn.text), history, state)
    if name == "classify_photo":
        return await _photo(tools, turn, str(args.get("note") or ""), state)
    if name == "find_nearby_places":
        return await _nearby(tools, turn, history, args, state)
    if name == "list_characters":
        found = await tools.characters(turn.user_id)
        return {
            "catalog": [msgspec.to_builtins(c) for c in found.catalog],
            "owned": [c.name for c in found.owned],
        }
    return {"error": f"unknown tool {name}"}


async def _search(tools: Toolbox, query: str, history: History, state: ToolState) -> dict[str, Any]:
    lookup = await tools.lookup(query, history.topic)
    if lookup.item is None or lookup.rules is None:
        return {"found": False, "query": lookup.query, "note": "지식베이스에 해당 품목이 없음"}
    state.category, state.topic = lookup.category, lookup.topic
    rules = lookup.rules
    return {
        "found": True,
        "item": lookup.item.name,
        "major_category": lookup.item.major,
        "middle_category": lookup.item.middle,
        "item_note": lookup.item.note,
        "rules_title": rules.title,
        "summary": rules.summary,
        "steps": rules.common_steps,
        "tips": rules.tips,
        "look_alikes": [msgspec.to_builtins(a) for a in rules.look_alikes],
    }


async def _photo(tools: Toolbox, turn: Turn, note: str, state: ToolState) -> dict[str, Any]:
    if not turn.image_url:
        return {"error": "사진이 없음"}
    scan = await tools.photo(turn.user_id, turn.image_url, note or turn.text)
    result = scan.pipeline_result
    if result is not None:
        c = result.classification_result.classification
        state.category = f"{c.major_category}/{c.middle_category}"
        state.topic = Topic(c.minor_category, c.major_category, c.middle_category)
    return {
        "result": msgspec.to_builtins(result) if result else None,
        "reward": msgspec.to_builtins(scan.reward) if scan.reward else None,
        "error": msgspec.to_builtins(scan.error) if scan.error else None,
    }


async def _nearby(
    tools: Toolbox, turn: Turn, history: History, args: dict[str, Any], state: ToolState
) -> dict[str, Any]:
    if turn.position is None:
        return {"error": "위치 정보 없음: 사용자에게 위치를 공유해 달라고 요청할 것"}
    item = str(args.get("item") or "")
    lookup = await tools.lookup(item, None) if item else None
    topic = lookup.topic if lookup and lookup.topic else history.topic
    state.topic = topic
    text = "제로웨이스트" if args.get("shop") else ""
    places = await tools.nearby(
        turn.position.latitude, turn.position.longitude, topic.middle if topic else None, text
    )
    return {"places": [msgspec.to_builtins(p) for p in places]}
