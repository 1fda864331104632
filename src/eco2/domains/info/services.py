"""Item search and the taxonomy, straight from the knowledge library (``eco2.knowledge``)."""

from __future__ import annotations

import asyncio

from eco2.domains.info.schemas import ItemDetail, ItemResult, MajorCategory, MiddleCategory
from eco2.knowledge import Item, KnowledgeBase, search
from eco2.platform.errors import NotFound


class InfoService:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    async def items(
        self, q: str | None, middle_category: str | None, limit: int
    ) -> list[ItemResult]:
        """Ranked hits for ``q`` (best first), or the items of a category in catalogue order."""
        if not q or not q.strip():
            found = [i for i in self._kb.items() if middle_category in (None, i.middle)]
            return [to_item_result(i) for i in found[:limit]]
        hits = await asyncio.to_thread(search, q, limit * 2 if middle_category else limit)
        ranked = [h for h in hits if h.lexical > 0]
        if middle_category:
            ranked = [h for h in ranked if h.item.middle == middle_category]
        return [to_item_result(h.item, h.score) for h in ranked[:limit]]

    def item(self, item_id: str) -> ItemDetail:
        try:
            found = self._kb.item(item_id)
        except KeyError:
            raise NotFound("해당 품목을 찾을 수 없습니다.", code="item_not_found") from None
        return ItemDetail(
            item=to_item_result(found), rules=self._kb.rules_for(found.major, found.middle)
        )

    def categories(self) -> list[MajorCategory]:
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
            for major in self._kb.taxonomy.majors
        ]


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
