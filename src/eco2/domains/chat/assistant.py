"""The assistant a message is answered by, and the offline one (the embedded default).

An assistant reports progress (named stages) and streams its answer as tokens through a
:class:`Progress`; the service persists the reply and turns the progress into SSE events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from eco2.domains.chat import replies
from eco2.domains.chat.context import SEARCH_DEPTH, History, Topic, is_follow_up, strip_cue
from eco2.domains.chat.intents import classify
from eco2.domains.chat.schemas import Intent, Position
from eco2.domains.chat.tools import GROUNDED, Toolbox
from eco2.knowledge import Hit, search_async

STAGE_OF: dict[str, str] = {
    "disposal": "waste_rag",
    "photo": "vision",
    "nearby": "location",
    "character": "character",
    "greeting": "general",
    "general": "general",
    "off_topic": "general",
}
OWNED_WORDS = ("내 ", "내가", "모은", "가진", "보유", "몇 ", "얻은")
_CHUNKS = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class Turn:
    user_id: str
    text: str
    image_url: str | None = None
    position: Position | None = None
    temperature: float = 0.2
    model: str | None = None  # the model the user picked (contract §7); None: the default


@dataclass(frozen=True, slots=True)
class Reply:
    answer: str
    intent: Intent
    category: str | None = None
    topic: Topic | None = None
    model: str | None = None  # which model answered, as stored with the message


class Progress(Protocol):
    async def stage(self, name: str, status: str, progress: int | None = None) -> None: ...

    async def token(self, content: str) -> None: ...


class Assistant(Protocol):
    name: str

    async def reply(self, turn: Turn, history: History, progress: Progress) -> Reply: ...


async def stream_text(text: str, progress: Progress) -> None:
    """An already-composed answer as tokens: one word (with its trailing space) each."""
    for chunk in _CHUNKS.findall(text):
        await progress.token(chunk)


class OfflineAssistant:
    """Intent rules, knowledge retrieval and Korean templates: deterministic, no network."""

    name = "offline"

    def __init__(self, tools: Toolbox) -> None:
        self.tools = tools

    async def intent(self, turn: Turn, history: History) -> Intent:
        return (await self._intent(turn, history))[0]

    async def _intent(self, turn: Turn, history: History) -> tuple[Intent, list[Hit]]:
        """The intent, and the items retrieved for the message's own words (deep enough for
        the lookup that follows, which then does not search them again)."""
        hits = await search_async(strip_cue(turn.text), SEARCH_DEPTH)
        follow_up = history.topic is not None and is_follow_up(turn.text)
        intent = await classify(
            turn.text, has_image=bool(turn.image_url), hits=hits, follow_up=follow_up
        )
        return intent, hits

    async def reply(self, turn: Turn, history: History, progress: Progress) -> Reply:
        await progress.stage("intent", "started")
        intent, hits = await self._intent(turn, history)
        await progress.stage("intent", "completed", 20)
        stage = STAGE_OF[intent]
        await progress.stage(stage, "started")
        reply = await self._answer(intent, turn, history, hits)
        await progress.stage(stage, "completed", 60)
        await progress.stage("answer", "started")
        await stream_text(reply.answer, progress)
        await progress.stage("answer", "completed", 95)
        return replace(reply, model=self.name)

    async def _answer(self, intent: Intent, turn: Turn, history: History, hits: list[Hit]) -> Reply:
        if intent == "disposal":
            lookup = await self.tools.lookup(turn.text, history.topic, hits)
            answer = replies.disposal(lookup, turn.text)
            return Reply(answer, intent, lookup.category, lookup.topic)
        if intent == "photo":
            return await self._photo(turn)
        if intent == "nearby":
            return await self._nearby(turn, history)
        if intent == "character":
            found = await self.tools.characters(turn.user_id)
            asked_owned = any(word in f"{turn.text} " for word in OWNED_WORDS)
            return Reply(replies.characters(found, asked_owned), intent)
        if intent == "general":
            return Reply(replies.GENERAL, intent)
        if intent == "greeting":
            return Reply(replies.greeting(turn.text), intent)
        return Reply(replies.OFF_TOPIC, intent)

    async def _photo(self, turn: Turn) -> Reply:
        scan = await self.tools.photo(turn.user_id, turn.image_url or "", turn.text)
        result = scan.pipeline_result
        if result is None:
            return Reply(replies.photo(scan), "photo")
        c = result.classification_result.classification
        topic = Topic(c.minor_category, c.major_category, c.middle_category)
        return Reply(replies.photo(scan), "photo", f"{c.major_category}/{c.middle_category}", topic)

    async def _nearby(self, turn: Turn, history: History) -> Reply:
        hits = await search_async(turn.text)
        item = hits[0].item if hits and hits[0].lexical >= GROUNDED else None
        topic = Topic(item.name, item.major, item.middle) if item else history.topic
        if turn.position is None:
            return Reply(replies.ASK_PLACE, "nearby", None, topic)
        middle = topic.middle if topic else None
        places = await self.tools.nearby(
            turn.position.latitude, turn.position.longitude, middle, turn.text
        )
        what = topic.item if topic else None
        return Reply(replies.nearby(places, what), "nearby", None, topic)


class ModelRouter:
    """Answers with the model a message picked when it is configured, else the default one
    (an unknown or unconfigured name is not an error: the client offers fixed names)."""

    name = "router"

    def __init__(self, default: Assistant, named: dict[str, Assistant]) -> None:
        self.default, self.named = default, named

    def pick(self, model: str | None) -> Assistant:
        return self.named.get(model or "", self.default)

    async def reply(self, turn: Turn, history: History, progress: Progress) -> Reply:
        return await self.pick(turn.model).reply(turn, history, progress)

    async def close(self) -> None:
        for assistant in {id(a): a for a in (self.default, *self.named.values())}.values():
            close = getattr(assistant, "close", None)
            if close is not None:
                await close()
