"""Chat: sessions, answering a message now (legacy) or as a durable job streamed over SSE.

A message sent with ``POST /chat/{id}/messages`` is stored at once and answered by a job on
the ``chat`` queue, which runs at least once and has one effect: the user's message and the
answer are keyed by the job id (a retry that finds the answer stored only reports it), and
its events are logged once each (:mod:`eco2.platform.job_events`, :mod:`.progress`). A model
failure that may pass (timeout, rate limit) is retried as another attempt; a job that will
not go on ends with ``done`` ``{status: failed}``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.chat import store
from eco2.domains.chat.assistant import Assistant, OfflineAssistant, Progress, Reply, Turn
from eco2.domains.chat.context import History, Topic, summarize
from eco2.domains.chat.models import ChatMessage, ChatSession
from eco2.domains.chat.progress import (
    RETRIABLE,
    TERMINAL,
    Collect,
    JobProgress,
    ModelError,
    collapse_tokens,
    failed,
    failure_kind,
)
from eco2.domains.chat.render import legacy_html
from eco2.domains.chat.schemas import (
    ChatCreated,
    ChatDetail,
    ChatPage,
    Deleted,
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
from eco2.platform import idempotency, ratelimit
from eco2.platform.batching import BatchLoader, BatchWriter
from eco2.platform.errors import InvalidInput, NotFound, ServiceUnavailable
from eco2.platform.ids import parse_id, parse_user_id
from eco2.platform.job_events import (
    EventHub,
    EventLog,
    JobStream,
    JobStreams,
    StaleAttempt,
    StreamPolicy,
    StreamSlots,
)
from eco2.platform.jobs import RETRY_SECONDS, Attempt, JobSpec, Payload, RetryLater, job_lifetime
from eco2.platform.runtime import Runtime
from eco2.registry import job_stream_path

log = structlog.get_logger(__name__)

KIND = "chat"
IMAGE_ONLY_TEXT = "이 이미지 분류해줘"
FAILED_ANSWER = "답변을 만들지 못했어요. 잠시 후 다시 시도해 주세요."


@dataclass(frozen=True, slots=True)
class AnswerState:
    """What a job found: the chat's memory (None: the chat or the asked message is gone), how
    many messages the chat had, and the ``done`` result of an answer stored already."""

    history: History | None
    seen: int
    stored: dict[str, Any] | None


class ChatJob(msgspec.Struct):
    """What answering a message needs (its user message is stored before it is queued)."""

    user_id: str
    chat_id: str
    user_message_id: str
    text: str
    image_url: str | None = None
    position: Position | None = None
    model: str | None = None

    def turn(self) -> Turn:
        return Turn(self.user_id, self.text, self.image_url, self.position, model=self.model)


def user_message_id(job_id: str) -> uuid.UUID:
    """The stored user message of a job, derived from its id (a retried submit stores it once);
    the answer is stored under the job id itself."""
    return uuid.uuid5(uuid.UUID(job_id), "user")


def build_assistant(runtime: Runtime, tools: Toolbox) -> Assistant:
    if runtime.settings.chat_provider == "openai" or runtime.settings.chat_models:
        from eco2.domains.chat.llm import build_assistant as with_models

        return with_models(runtime.settings, tools)
    return OfflineAssistant(tools)


class ChatService:
    """Process-wide: the assistant, the chat queue, the event log and its streams."""

    def __init__(self, runtime: Runtime, tools: Toolbox) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.tools = tools
        self.assistant = build_assistant(runtime, self.tools)
        self.events = EventLog(
            runtime.redis, KIND, ttl=settings.chat_events_ttl_seconds, terminal=TERMINAL
        )
        self.streams = JobStreams(
            EventHub(self.events, runtime.stopping),
            StreamSlots(runtime.redis, settings.stream_max_per_user),
            StreamPolicy(
                on_deadline=lambda _: ("done", failed("timeout")),
                keepalive_seconds=settings.chat_keepalive_seconds,
                keepalive_event="keepalive",
                replay=collapse_tokens,
            ),
            missing=lambda: NotFound("답변 작업을 찾을 수 없습니다.", code="chat_job_not_found"),
            path=job_stream_path,
            tokens=runtime.tokens,
            lifetime=self.lifetime,
        )
        # A burst of sends: a few transactions, not a pooled connection per send.
        self.sends = BatchWriter(runtime.sessions, store.add_user_messages, name="chat.sends")
        # A burst of jobs reads its chats and stores its answers in a few statements, not a
        # pooled connection each.
        self.states = BatchLoader(self._read_states)
        self.answers = BatchLoader(self._write_answers)
        self.queue = runtime.jobs.queue(KIND)
        self.queue.register(
            JobSpec("answer", self._run_job, self._give_up, timeout=settings.chat_timeout_seconds)
        )

    @property
    def lifetime(self) -> float:
        return job_lifetime(self.runtime.settings, self.runtime.settings.chat_timeout_seconds)

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

    async def _history(
        self, session: AsyncSession, chat: ChatSession, before: ChatMessage | None = None
    ) -> History:
        limit = self.runtime.settings.chat_history_messages
        recent = await store.recent(session, chat.id, limit, before.created_at if before else None)
        context = chat.context or {}
        return History(
            summary=chat.summary,
            recent=[(m.role, m.content) for m in recent],
            topic=Topic.from_dict(context.get("topic")),
            topics=list(context.get("topics", [])),
        )

    # --- answering --------------------------------------------------------------------------

    async def _reply(self, turn: Turn, history: History, progress: Progress) -> Reply:
        async with asyncio.timeout(self.runtime.settings.chat_timeout_seconds):
            return await self.assistant.reply(turn, history, progress)

    async def _record(
        self, chat_id: uuid.UUID, history: History, reply: Reply, message_id: uuid.UUID
    ) -> Persistence:
        """Store the answer (once: keyed by ``message_id``) and move the chat's memory on."""
        async with self.runtime.sessions.begin() as session:
            chat = await session.get(ChatSession, chat_id, with_for_update=True)
            if chat is None:  # deleted while answering
                raise store.not_found()
            message = await session.get(ChatMessage, message_id)
            if message is None:
                topic = reply.topic or history.topic
                topics, summary = summarize(
                    list((chat.context or {}).get("topics", [])), reply.topic
                )
                chat.context = {"topic": topic.as_dict() if topic else None, "topics": topics}
                chat.summary = summary
                message = await store.add_message(
                    session,
                    chat,
                    message_id,
                    role="assistant",
                    content=reply.answer,
                    intent=reply.intent,
                    category=reply.category,
                    model=reply.model,
                )
            return _persistence(message)

    async def _open(
        self, user_id: str, chat_id: str | None, turn: Turn
    ) -> tuple[ChatSession, ChatMessage]:
        """The chat (new when ``chat_id`` is None) and the user's message, stored in it."""
        owner = parse_user_id(user_id)
        async with self.runtime.sessions.begin() as session:
            if chat_id is None:
                chat = await store.create(session, owner, None)
            else:
                chat = await store.owned(session, owner, chat_id)
            message = await store.add_message(
                session, chat, role="user", content=turn.text, image_url=turn.image_url
            )
            return chat, message

    async def legacy(self, user_id: str, data: LegacyMessage) -> LegacyAnswer:
        """Contract §3.11: answer now; the chat continues with the returned ``session_id``."""
        turn = self._turn(user_id, data.message, data.image_url, temperature=data.temperature)
        chat, message = await self._open(user_id, data.session_id, turn)
        async with self.runtime.sessions() as session:
            history = await self._history(session, chat, before=message)
        try:
            reply = await self._reply(turn, history, Collect())
        except (ModelError, TimeoutError) as exc:
            log.warning("chat_answer_failed", error=str(exc))
            raise ServiceUnavailable(FAILED_ANSWER, code="chat_unavailable") from exc
        await self._record(chat.id, history, reply, uuid.uuid4())
        return LegacyAnswer(session_id=str(chat.id), user_answer=legacy_html(reply.answer))

    async def submit(
        self, user_id: str, chat_id: str, data: SendMessage, idempotency_key: str | None = None
    ) -> JobAccepted:
        """Accept a message for an answer (a retry with the same ``Idempotency-Key`` gets the
        first job)."""
        turn = self._turn(
            user_id, data.message, data.image_url, data.user_location, model=data.model
        )
        chat = parse_id(chat_id, store.not_found)
        async with idempotency.submission(
            self.runtime.redis,
            KIND,
            user_id,
            idempotency_key,
            {"chat_id": chat_id, "message": data},
            self.runtime.settings.idempotency_ttl_seconds,
            self.limit(user_id),
        ) as job_id:
            return await self._queue(user_id, chat, turn, job_id)

    async def _queue(self, user_id: str, chat: uuid.UUID, turn: Turn, job_id: str) -> JobAccepted:
        message = user_message_id(job_id)
        await self.sends.write(
            {
                "owner": parse_user_id(user_id),
                "chat_id": chat,
                "message_id": message,
                "content": turn.text,
                "image_url": turn.image_url,
            }
        )
        queued = {"stage": "queued", "status": "completed", "progress": 0}
        try:
            deadline = time.time() + self.lifetime
            created = await self.events.create(
                job_id, user_id, deadline, ("queued", "queued:completed", queued)
            )
        except RedisError as exc:
            raise ServiceUnavailable(code="event_store_unavailable") from exc
        job = ChatJob(
            user_id,
            str(chat),
            str(message),
            turn.text,
            turn.image_url,
            turn.position,
            turn.model,
        )
        await self.queue.enqueue("answer", job_id, msgspec.to_builtins(job))
        stream_url = await self.streams.url(job_id, user_id, deadline if created else None)
        return JobAccepted(job_id=job_id, stream_url=stream_url, status="queued")

    async def _run_job(self, attempt: Attempt, payload: Payload) -> None:
        job = msgspec.convert(payload, ChatJob)
        answer_id = uuid.UUID(attempt.job_id)
        try:
            progress = JobProgress(await self.events.writer(attempt.job_id, attempt.number))
            state = await self._answer_state(job, answer_id)
            if state.stored is not None:  # an earlier attempt stored it before it died
                await progress.done(state.stored)
                return
            if state.history is None:  # the chat or the message was deleted meanwhile
                await progress.fail("chat_not_found")
                return
            done = await self._answer(job, state, answer_id, progress, attempt)
            if done is not None:
                await progress.done(done)
        except StaleAttempt:  # a newer attempt took the job over
            return
        except (SQLAlchemyError, RedisError, OSError) as exc:
            raise RetryLater(f"store unavailable: {exc!r}", RETRY_SECONDS) from exc

    async def _answer_state(self, job: ChatJob, answer_id: uuid.UUID) -> AnswerState:
        """Everything the job reads from PostgreSQL, in one statement outside a transaction
        (shared with the jobs that read at the same time)."""
        rows = await self.states.load(
            store.StateKey(uuid.UUID(job.chat_id), uuid.UUID(job.user_message_id), answer_id)
        )
        if not rows:
            return AnswerState(None, 0, None)
        chat = rows[0]
        if chat.answer is not None:
            stored = _stored_done(
                answer_id, chat.answer, chat.intent, chat.category, chat.model, chat.answered_at
            )
            return AnswerState(None, chat.message_count, stored)
        if chat.asked is None:
            return AnswerState(None, chat.message_count, None)
        context = chat.context or {}
        history = History(
            summary=chat.summary,
            recent=[(row.role, row.content) for row in rows if row.role is not None],
            topic=Topic.from_dict(context.get("topic")),
            topics=list(context.get("topics", [])),
        )
        return AnswerState(history, chat.message_count, None)

    async def _read_states(
        self, keys: Sequence[store.StateKey]
    ) -> dict[store.StateKey, list[Row[Any]]]:
        """The rows of :data:`store.ANSWER_STATES` of each job (none: its chat is gone)."""
        rows = await self.runtime.statements.read(
            store.ANSWER_STATES,
            {
                "jobs": store.batch_json(keys),
                "limit": self.runtime.settings.chat_history_messages,
            },
        )
        found: dict[store.StateKey, list[Row[Any]]] = {}
        for row in rows:
            found.setdefault(keys[row.item - 1], []).append(row)
        return found

    async def _write_answers(
        self, answers: Sequence[store.AnswerRow]
    ) -> dict[store.AnswerRow, datetime]:
        """Store answers with :data:`store.RECORD_ANSWERS`: the ``created_at`` of each one
        stored (an answer not stored is not there: its chat moved on, or it was stored)."""
        rows = await self.runtime.statements.write(
            store.RECORD_ANSWERS, {"answers": store.batch_json(answers)}
        )
        stored = {row.id: row.created_at for row in rows}
        return {
            answer: stored[answer.message_id] for answer in answers if answer.message_id in stored
        }

    async def _answer(
        self,
        job: ChatJob,
        state: AnswerState,
        answer_id: uuid.UUID,
        progress: JobProgress,
        attempt: Attempt,
    ) -> dict[str, Any] | None:
        """Answer the message and store the answer; the ``done`` result, or None when the job
        ended without an answer."""
        history = state.history or History()
        try:
            reply = await self._reply(job.turn(), history, progress)
        except (ModelError, TimeoutError) as exc:
            kind = failure_kind(exc)
            log.warning("chat_answer_failed", job_id=attempt.job_id, kind=kind, error=str(exc))
            if kind in RETRIABLE and not attempt.last:
                await progress.retrying(kind)
                raise RetryLater(kind, RETRY_SECONDS) from exc
            await progress.fail(kind)
            return None
        chat_id = uuid.UUID(job.chat_id)
        try:
            persistence = await self._record_unchanged(chat_id, state, reply, answer_id)
            if persistence is None:  # the chat moved on meanwhile (or the answer is stored)
                persistence = await self._record(chat_id, history, reply, answer_id)
        except NotFound:
            await progress.fail("chat_not_found")
            return None
        persistence.user_message = job.user_message_id
        done: dict[str, Any] = msgspec.to_builtins(
            DoneResult(reply.answer, reply.intent, reply.category, persistence, reply.model)
        )
        return done

    async def _record_unchanged(
        self, chat_id: uuid.UUID, state: AnswerState, reply: Reply, message_id: uuid.UUID
    ) -> Persistence | None:
        """:meth:`_record` in one statement, if the chat has not changed since ``state`` was
        read (None otherwise: nothing was written)."""
        history = state.history or History()
        topic = reply.topic or history.topic
        topics, summary = summarize(history.topics, reply.topic)
        context = {"topic": topic.as_dict() if topic else None, "topics": topics}
        answer = store.AnswerRow(
            **store.appended_values(message_id, reply.answer),
            chat_id=chat_id,
            seen=state.seen,
            new_summary=summary,
            new_context=msgspec.json.encode(context).decode(),
            content=reply.answer,
            intent=reply.intent,
            category=reply.category,
            model=reply.model,
        )
        try:
            created_at = await self.answers.load(answer)
        except IntegrityError:  # a concurrent attempt stored it first
            return None
        if created_at is None:
            return None
        return Persistence("", str(message_id), created_at)

    async def _stored_answer(self, answer_id: uuid.UUID) -> dict[str, Any] | None:
        """The ``done`` result of an answer an earlier attempt stored before it died."""
        async with self.runtime.sessions() as session:
            message = await session.get(ChatMessage, answer_id)
        if message is None:
            return None
        return _stored_done(
            answer_id,
            message.content,
            message.intent,
            message.category,
            message.model,
            message.created_at,
        )

    async def _give_up(self, attempt: Attempt, payload: Payload) -> None:
        """Attempts used up: an answer stored by a dying attempt still counts; else it failed."""
        try:
            progress = JobProgress(await self.events.writer(attempt.job_id, attempt.number))
        except StaleAttempt:
            return
        stored = await self._stored_answer(uuid.UUID(attempt.job_id))
        if stored is not None:
            await progress.done(stored)
        else:
            await progress.fail("other")

    # --- chats ------------------------------------------------------------------------------

    async def chats(self, user_id: str, limit: int, cursor: str | None) -> ChatPage:
        async with self.runtime.sessions() as session:
            return await store.chats(session, parse_user_id(user_id), limit, cursor)

    async def create(self, user_id: str, title: str | None) -> ChatCreated:
        async with self.runtime.sessions.begin() as session:
            chat = await store.create(session, parse_user_id(user_id), title)
        return ChatCreated(id=str(chat.id), title=chat.title, created_at=chat.created_at)

    async def detail(
        self, user_id: str, chat_id: str, limit: int, cursor: str | None
    ) -> ChatDetail:
        async with self.runtime.sessions() as session:
            chat = await store.owned(session, parse_user_id(user_id), chat_id)
            return await store.detail(session, chat, limit, cursor)

    async def rename(self, user_id: str, chat_id: str, title: str) -> ChatCreated:
        async with self.runtime.sessions.begin() as session:
            chat = await store.owned(session, parse_user_id(user_id), chat_id)
            await store.rename(session, chat, title)
        return ChatCreated(id=str(chat.id), title=chat.title, created_at=chat.created_at)

    async def delete(self, user_id: str, chat_id: str) -> Deleted:
        async with self.runtime.sessions.begin() as session:
            chat = await store.owned(session, parse_user_id(user_id), chat_id)
            await store.delete_chat(session, chat)
        return Deleted(id=chat_id)

    # --- reading ----------------------------------------------------------------------------

    async def stream(self, user_id: str, job_id: str, since: int | None) -> JobStream:
        return await self.streams.open(user_id, job_id, since)

    @classmethod
    async def start(cls, runtime: Runtime) -> ChatService:
        await asyncio.to_thread(load_knowledge)  # the index itself warms up in the background
        service = cls(runtime, Toolbox(runtime))
        service.streams.start()
        return service

    async def close(self) -> None:
        await self.streams.close()
        await self.sends.close()
        close = getattr(self.assistant, "close", None)
        if close is not None:
            await close()

    async def forget_user(self, user_id: str) -> None:
        async with self.runtime.sessions.begin() as session:
            await store.forget(session, parse_user_id(user_id))


def _stored_done(
    answer_id: uuid.UUID,
    content: str,
    intent: str | None,
    category: str | None,
    model: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """The ``done`` result of an answer an earlier attempt stored (under the job id)."""
    user_message = str(user_message_id(str(answer_id)))
    persistence = Persistence(user_message, str(answer_id), created_at)
    done: dict[str, Any] = msgspec.to_builtins(
        DoneResult(content, intent or "", category, persistence, model)
    )
    return done


def _persistence(message: ChatMessage) -> Persistence:
    return Persistence(
        user_message="",
        assistant_message=str(message.id),
        assistant_message_created_at=message.created_at,
    )
