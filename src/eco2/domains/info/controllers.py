"""``/api/v1/info``: item search and the taxonomy, straight from the knowledge base, and the
news feed of the Info tab.

Public (registry): both are the same for everyone and hold no user data, so the info tab
works before sign-in and the gateway skips authorization for it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Litestar, Router, get
from litestar.params import FromPath, FromQuery, QueryParameter

from eco2.domains.info.deps import News, dependencies, start_news, stop_news
from eco2.domains.info.news import parse_category
from eco2.domains.info.schemas import (
    ItemDetail,
    ItemResult,
    MajorCategory,
    MiddleCategory,
    NewsPage,
)
from eco2.knowledge import Item, KnowledgeBase, default_retriever, load_knowledge, search
from eco2.platform.errors import NotFound
from eco2.registry import API


def to_item_result(item: Item, score: float | None = None) -> ItemResult:
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
    return [to_item_result(i) for i in items[:limit]]


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
    return [to_item_result(h.item, h.score) for h in ranked[:limit]]


@get("/items/{item_id:str}", summary="One item with its category's disposal rules")
async def item(item_id: FromPath[str]) -> ItemDetail:
    kb = load_knowledge()
    try:
        found = kb.item(item_id)
    except KeyError:
        raise NotFound("해당 품목을 찾을 수 없습니다.", code="item_not_found") from None
    return ItemDetail(item=to_item_result(found), rules=kb.rules_for(found.major, found.middle))


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


@get("/news", summary="The news feed, newest first (cursor pages)")
async def news(
    news: News,
    category: Annotated[
        str | None, QueryParameter(max_length=20, description="environment | energy | ai")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
    cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> NewsPage:
    return await news.page(parse_category(category), limit, cursor)


async def warm_retriever(_: Litestar) -> None:
    """Build the retriever (embeddings of every alias) before the first search."""
    await asyncio.to_thread(default_retriever)


info_router = Router(
    f"{API}/info",
    route_handlers=[items, item, categories, news],
    dependencies=dependencies,
    tags=["info"],
)

route_handlers = [info_router]
on_startup = [warm_retriever, start_news]
on_shutdown = [stop_news]
