"""What an answer may use: the knowledge base, the scan pipeline (photos), nearby places and
characters. Shared by the offline assistant and the LLM's tool calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from eco2.domains.character.interface import character_port
from eco2.domains.character.schemas import CatalogCharacter, OwnedCharacter
from eco2.domains.chat.context import Topic, resolve
from eco2.domains.location.interface import location_port
from eco2.domains.location.schemas import CenterEntry
from eco2.domains.scan.interface import scan_port
from eco2.domains.scan.schemas import ScanResponse
from eco2.knowledge import Hit, Item, KnowledgeBase, RulesDoc, load_knowledge, search_async
from eco2.platform.runtime import Runtime

NEARBY_RADIUS_M = 3000
NEARBY_LIMIT = 3
GROUNDED = 0.3  # lexical share for an answer to rest on an item (else: "the KB has no answer")
STORE_WORDS = ("제로웨이스트", "제로 웨이스트", "리필", "가게", "매장", "샵")


@dataclass(frozen=True, slots=True)
class Lookup:
    """A knowledge-base answer for a question, or its absence (``item`` is None)."""

    query: str
    item: Item | None
    rules: RulesDoc | None
    follow_up: bool
    hits: list[Hit]

    @property
    def topic(self) -> Topic | None:
        if self.item is None:
            return None
        return Topic(self.item.name, self.item.major, self.item.middle)

    @property
    def category(self) -> str | None:
        return f"{self.item.major}/{self.item.middle}" if self.item else None


@dataclass(frozen=True, slots=True)
class Characters:
    catalog: list[CatalogCharacter]
    owned: list[OwnedCharacter]


class Toolbox:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.kb: KnowledgeBase = load_knowledge()
        self._scan = scan_port(runtime)
        self._characters = character_port(runtime)
        self._places = location_port(runtime)

    async def lookup(self, text: str, topic: Topic | None, own: list[Hit] | None = None) -> Lookup:
        """The item the text is about; ``own``: the items already retrieved for its own words
        (``context.strip_cue``), ``SEARCH_DEPTH`` deep."""
        query, hits, follow_up = await resolve(text, topic, search_async, own)
        best = hits[0] if hits and hits[0].lexical >= GROUNDED else None
        if best is None:
            return Lookup(query, None, None, follow_up, hits)
        rules = self.kb.rules_for(best.item.major, best.item.middle)
        return Lookup(query, best.item, rules, follow_up, hits)

    async def photo(self, user_id: str, image_url: str, text: str | None) -> ScanResponse:
        return await self._scan.classify(user_id, image_url, text or None)

    async def nearby(
        self, latitude: float, longitude: float, middle: str | None, text: str = ""
    ) -> list[CenterEntry]:
        if any(word in text for word in STORE_WORDS):
            return await self._places.nearest(
                latitude,
                longitude,
                store_category="refill_zero",
                radius_m=NEARBY_RADIUS_M,
                limit=NEARBY_LIMIT,
            )
        pickup = self.kb.pickup_category(middle) if middle else None
        return await self._places.nearest(
            latitude,
            longitude,
            pickup_category=pickup,
            radius_m=NEARBY_RADIUS_M,
            limit=NEARBY_LIMIT,
        )

    async def characters(self, user_id: str) -> Characters:
        catalog, owned = await asyncio.gather(
            self._characters.catalog(), self._characters.owned(user_id)
        )
        return Characters(catalog, owned)
