"""``/api/v1/info``: item search and the taxonomy, straight from the knowledge base.

Public (registry): the knowledge is the same for everyone and holds no user data, so the
info tab works before sign-in and the gateway skips authorization for it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from litestar import Router, get
from litestar.params import FromPath, FromQuery, QueryParameter

from eco2.domains.waste.knowledge import Item, KnowledgeBase, RulesDoc, load_knowledge
from eco2.domains.waste.retrieval import default_retriever, search
from eco2.platform.errors import NotFound
from eco2.registry import API


class ItemResult(msgspec.Struct):
    id: str
    name: str
    major_category: str
    middle_category: str
    minor_category: str
    synonyms: list[str]
    note: str | None
    score: float | None = None


class ItemDetail(msgspec.Struct):
    item: ItemResult
    rules: RulesDoc


class MiddleCategory(msgspec.Struct):
    name: str
    code: str
    pickup_category: str | None
    minor_categories: list[str]


class MajorCategory(msgspec.Struct):
    name: str
    code: str
    recyclable: bool
    middle_categories: list[MiddleCategory]


def _result(item: Item, score: float | None = None) -> ItemResult:
    return ItemResult(
        id=item.id,
        name=item.name,
        major_category=item.major,
        middle_category=item.middle,
        minor_category=item.minor,
        synonyms=list(item.synonyms),
        note=item.note,
        score=round(score, 4) if score is not None else None,
    )


def _browse(kb: KnowledgeBase, middle: str | None, limit: int) -> list[ItemResult]:
    items = [i for i in kb.items() if middle is None or i.middle == middle]
    return [_result(i) for i in items[:limit]]


@get("/items", summary="Search items (ranked, best first) or browse them by category")
async def items(
    q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    middle_category: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
) -> list[ItemResult]:
    if not q or not q.strip():
        return _browse(load_knowledge(), middle_category, limit)
    hits = await asyncio.to_thread(search, q, limit * 2 if middle_category else limit)
    ranked = [h for h in hits if h.lexical > 0]
    if middle_category:
        ranked = [h for h in ranked if h.item.middle == middle_category]
    return [_result(h.item, h.score) for h in ranked[:limit]]


@get("/items/{item_id:str}", summary="One item with its category's disposal rules")
async def item(item_id: FromPath[str]) -> ItemDetail:
    kb = load_knowledge()
    try:
        found = kb.item(item_id)
    except KeyError:
        raise NotFound("해당 품목을 찾을 수 없습니다.", code="item_not_found") from None
    return ItemDetail(item=_result(found), rules=kb.rules_for(found.major, found.middle))


@get("/categories", summary="The taxonomy: major → middle → minor")
async def categories() -> list[MajorCategory]:
    return [
        MajorCategory(
            name=major.name,
            code=major.code,
            recyclable=major.recyclable,
            middle_categories=[
                MiddleCategory(m.name, m.code, m.pickup_category, list(m.minors))
                for m in major.middles
            ],
        )
        for major in load_knowledge().taxonomy.majors
    ]


info_router = Router(f"{API}/info", route_handlers=[items, item, categories], tags=["info"])

route_handlers = [info_router]
# The retriever (Kiwi, IDF, embeddings of every alias) is built before the first search.
warm_ups = {"knowledge": default_retriever}
