"""``/api/v1/info``: item search and the taxonomy, straight from the knowledge base, and the
news feed of the Info tab.

Public (registry): both are the same for everyone and hold no user data, so the info tab
works before sign-in and the gateway skips authorization for it.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get
from litestar.params import FromPath, FromQuery, QueryParameter

from eco2.domains.info.deps import Info
from eco2.domains.info.news import parse_category
from eco2.domains.info.schemas import ItemDetail, ItemResult, MajorCategory, NewsPage
from eco2.knowledge import default_retriever
from eco2.registry import API


@get("/items", summary="Search items (ranked, best first) or browse them by category")
async def items(
    info: Info,
    q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    middle_category: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
) -> list[ItemResult]:
    return await info.items(q, middle_category, limit)


@get("/items/{item_id:str}", summary="One item with its category's disposal rules")
async def item(info: Info, item_id: FromPath[str]) -> ItemDetail:
    return info.item(item_id)


@get("/categories", summary="The taxonomy: major → middle → minor")
async def categories(info: Info) -> list[MajorCategory]:
    return info.categories()


@get("/news", summary="The news feed, newest first (cursor pages)")
async def news(
    info: Info,
    category: Annotated[
        str | None, QueryParameter(max_length=20, description="environment | energy | ai")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
    cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> NewsPage:
    return await info.news(parse_category(category), limit, cursor)


public = Router(
    f"{API}/info",
    route_handlers=[items, item, categories, news],
    tags=["info"],
)

route_handlers = [public]
# The retriever (Kiwi, IDF, embeddings of every alias) is built before the first search.
warm_ups = {"knowledge": default_retriever}
