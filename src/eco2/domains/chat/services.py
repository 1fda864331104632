"""Chat: sessions, answering a message now (legacy) or as a job streamed over SSE."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
import structlog
from litestar import Litestar
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.chat import store
from eco2.domains.chat.assistant import Assistant, OfflineAssistant, Reply, Turn
from eco2.domains.chat.context import History, Topic, summarize
from eco2.domains.chat.models import ChatSession
from eco2.domains.chat.progress import Collect, JobProgress, ModelError
from eco2.domains.chat.render import legacy_html
from eco2.domains.chat.schemas import (
    DoneResult,
    JobAccepted,
    LegacyAnswer,
    LegacyMessage,
    Persistence,
    Position,
    SendMessage,
)
from eco2.domains.chat.tools import Toolbox
from eco2.domains.images.interface import check_image_url
from eco2.knowledge import load_knowledge
from eco2.platform import jobs, ratelimit
from eco2.platform.errors import InvalidInput, ServiceUnavailable
from eco2.platform.ids import parse_user_id
from eco2.platform.runtime import Runtime
from eco2.platform.tracing import traced_job
from eco2.registry import API

log = structlog.get_logger(__name__)

KIND = "chat"
IMAGE_ONLY_TEXT = "이 이미지 분류해줘"
FAILED_ANSWER = "답변을 만들지 못했어요. 잠시 후 다시 시도해 주세요."


def build_assistant(runtime: Runtime, tools: Toolbox) -> Assistant:
    if runtime.settings.chat_provider == "openai" or runtime.settings.chat_models:
        from eco2.domains.chat.llm import build_assistant as with_models

        return with_models(runtime.settings, tools)
    return OfflineAssistant(tools)


class ChatService:
    """Process-wide: the assistant, the event hub and the running jobs."""

    def __init__(self, runtime: Runtime, state: State) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.tools = Toolbox(runtime, state)
        self.assistant = build_assistant(runtime, self.tools)
        self.hub = jobs.EventHub(
            runtime.redis,
            KIND,
            terminal=("done", "error"),
            keepalive_seconds=settings.chat_keepalive_seconds,
        )
        self._jobs: set[asyncio.Task[None]] = set()

    # --- input ------------------------------------------------------------------------------

    def limit(self, user_id: str) -> AbstractAsyncContextManager[None]:
        """One message of the user's rate limit, given back unless the message is accepted."""
        limit, window = (
            self.runtime.settings.chat_rate_limit,
            self.runtime.settings.chat_rate_window_seconds,
        )
        return ratelimit.per_user(
            self.runtime.redis, "chat", user_id, limit, window, "메시지를 보낸 횟수가"
        )

    def _turn(
        self,
        user_id: str,
        text: str,
        image_url: str | None,
        position: Position | None = None,
        temperature: float = 0.2,
        model: str | None = None,
    ) -> Turn:
        text = text.strip()
        if image_url:
            check_image_url(self.runtime.settings, image_url)
        if not text and not image_url:
            raise InvalidInput("메시지를 입력해 주세요.", code="empty_message", field="message")
        text = text or IMAGE_ONLY_TEXT
        return Turn(user_id, text, image_url, position, temperature, model)

    async def _history(self, session: AsyncSession, chat: ChatSession) -> History:
        recent = await store.recent(session, chat.id, self.runtime.settings.chat_history_messages)
        context = chat.context or {}
        return History(
            summary=chat.summary,
            recent=[(m.role, m.content) for m in recent],
            topic=Topic.from_dict(context.get("topic")),
            topics=list(context.get("topics", [])),
        )

    # --- answering --------------------------------------------------------------------------

    async def _reply(self, turn: Turn, history: History, progress: Any) -> Reply:
        async with asyncio.timeout(self.runtime.settings.chat_timeout_seconds):
            return await self.assistant.reply(turn, history, progress)

    async def _record(
        self, chat_id: uuid.UUID, history: History, reply: Reply
    ) -> tuple[str, Persistence]:
        """Store the answer and move the chat's memory forward; returns the chat id."""
        async with self.runtime.sessions.begin() as session:
            chat = await session.get(ChatSession, chat_id, with_for_update=True)
            if chat is None:  # deleted while answering
                raise store.not_found()
            topic = reply.topic or history.topic
            topics, summary = summarize(list((chat.context or {}).get("topics", [])), reply.topic)
            chat.context = {"topic": topic.as_dict() if topic else None, "topics": topics}
            chat.summary = summary
            message = await store.add_message(
                session,
                chat,
                role="assistant",
                content=reply.answer,
                intent=reply.intent,
                category=reply.category,
                model=reply.model,
            )
            return str(chat.id), Persistence(
                user_message="",
                assistant_message=str(message.id),
                assistant_message_created_at=message.created_at,
            )

    async def _open(
        self, user_id: str, chat_id: str | None, turn: Turn
    ) -> tuple[uuid.UUID, History, str]:
        """The chat (new when ``chat_id`` is None), its history, and the stored user message."""
        owner = parse_user_id(user_id)
        async with self.runtime.sessions.begin() as session:
            if chat_id is None:
                chat = await store.create(session, owner, None)
            else:
                chat = await store.owned(session, owner, chat_id)
            history = await self._history(session, chat)
            message = await store.add_message(
                session, chat, role="user", content=turn.text, image_url=turn.image_url
            )
            return chat.id, history, str(message.id)

    async def legacy(self, user_id: str, data: LegacyMessage) -> LegacyAnswer:
        """Contract §3.11: answer now; the chat continues with the returned ``session_id``."""
        turn = self._turn(user_id, data.message, data.image_url, temperature=data.temperature)
        chat_id, history, _ = await self._open(user_id, data.session_id, turn)
        try:
            reply = await self._reply(turn, history, Collect())
        except (ModelError, TimeoutError) as exc:
            log.warning("chat_answer_failed", error=str(exc))
            raise ServiceUnavailable(FAILED_ANSWER, code="chat_unavailable") from exc
        session_id, _ = await self._record(chat_id, history, reply)
        return LegacyAnswer(session_id=session_id, user_answer=legacy_html(reply.answer))

    async def submit(self, user_id: str, chat_id: str, data: SendMessage) -> JobAccepted:
        turn = self._turn(
            user_id, data.message, data.image_url, data.user_location, model=data.model
        )
        key, history, user_message = await self._open(user_id, chat_id, turn)
        job_id = str(uuid.uuid4())
        events = jobs.EventLog(
            self.runtime.redis, KIND, job_id, self.runtime.settings.chat_events_ttl_seconds
        )
        await events.open(user_id)
        progress = JobProgress(events)
        await progress.stage("queued", "completed", 0)
        task = asyncio.create_task(
            traced_job("chat", job_id, self._job(key, turn, history, user_message, progress))
        )
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return JobAccepted(job_id=job_id, stream_url=f"{API}/chat/{job_id}/events", status="queued")

    async def _job(
        self,
        chat_id: uuid.UUID,
        turn: Turn,
        history: History,
        user_message: str,
        progress: JobProgress,
    ) -> None:
        try:
            reply = await self._reply(turn, history, progress)
            _, persistence = await self._record(chat_id, history, reply)
        except Exception as exc:
            await progress.fail(exc)
            return
        persistence.user_message = user_message
        result = DoneResult(reply.answer, reply.intent, reply.category, persistence, reply.model)
        await progress.done(msgspec.to_builtins(result))

    async def close(self) -> None:
        for task in list(self._jobs):
            task.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self.hub.close()
        close = getattr(self.assistant, "close", None)
        if close is not None:
            await close()


# --- lifecycle ------------------------------------------------------------------------------


async def start(app: Litestar) -> None:
    await asyncio.to_thread(load_knowledge)  # the index itself warms up in the background
    app.state.chat_service = ChatService(app.state.runtime, app.state)


async def stop(app: Litestar) -> None:
    """Runs only after ``start`` succeeded (the app's domain lifecycle)."""
    service: ChatService = app.state.chat_service
    await service.close()


async def forget_user(runtime: Runtime, user_id: str) -> None:
    async with runtime.sessions.begin() as session:
        await store.forget(session, parse_user_id(user_id))
