"""Chat sessions and messages in PostgreSQL: owner-checked reads, keyset pages, writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from types import NoneType
from typing import Any, Literal, cast, get_args

import msgspec
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TableValuedAlias

from eco2.domains.chat.models import ChatMessage, ChatSession
from eco2.domains.chat.schemas import ChatDetail, ChatPage, ChatSummary, MessageView
from eco2.platform.db import utcnow
from eco2.platform.errors import NotFound
from eco2.platform.ids import parse_id
from eco2.platform.pagination import newest_first

PREVIEW_CHARS = 80
TITLE_CHARS = 30


def not_found() -> NotFound:
    return NotFound("대화를 찾을 수 없습니다.", code="chat_not_found")


async def owned(session: AsyncSession, user_id: uuid.UUID, chat_id: str) -> ChatSession:
    """The user's chat; another user's (or a malformed id) is simply not found."""
    chat = await session.get(ChatSession, parse_id(chat_id, not_found))
    if chat is None or chat.user_id != user_id:
        raise not_found()
    return chat


async def create(session: AsyncSession, user_id: uuid.UUID, title: str | None) -> ChatSession:
    now = utcnow()
    chat = ChatSession(
        id=uuid.uuid4(),
        user_id=user_id,
        title=title,
        message_count=0,
        summary="",
        context={},
        created_at=now,
        last_message_at=now,
    )
    session.add(chat)
    await session.flush()
    return chat


def summary_of(chat: ChatSession) -> ChatSummary:
    return ChatSummary(
        id=str(chat.id),
        title=chat.title,
        preview=chat.preview,
        message_count=chat.message_count,
        last_message_at=chat.last_message_at,
        created_at=chat.created_at,
    )


async def chats(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> ChatPage:
    """Most recently active first, keyset-paginated on (last_message_at, id)."""
    query = select(ChatSession).where(ChatSession.user_id == user_id)
    page = await newest_first(
        session, query, ChatSession.last_message_at, ChatSession.id, limit=limit, cursor=cursor
    )
    return ChatPage(chats=[summary_of(c) for c in page.rows], next_cursor=page.next_cursor)


def to_message_view(message: ChatMessage) -> MessageView:
    role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
    return MessageView(
        id=str(message.id),
        role=role,
        content=message.content,
        created_at=message.created_at,
        image_url=message.image_url,
        model=message.model,
    )


async def detail(
    session: AsyncSession, chat: ChatSession, limit: int, cursor: str | None
) -> ChatDetail:
    """Newest messages first page by page; within a page, oldest first (reading order)."""
    query = select(ChatMessage).where(ChatMessage.session_id == chat.id)
    page = await newest_first(
        session, query, ChatMessage.created_at, ChatMessage.id, limit=limit, cursor=cursor
    )
    return ChatDetail(
        id=str(chat.id),
        title=chat.title,
        messages=[to_message_view(m) for m in reversed(page.rows)],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
        created_at=chat.created_at,
    )


async def recent(
    session: AsyncSession, chat_id: uuid.UUID, limit: int, before: datetime | None = None
) -> list[ChatMessage]:
    """The chat's last ``limit`` messages (those older than ``before``), oldest first."""
    query = select(ChatMessage).where(ChatMessage.session_id == chat_id)
    if before is not None:
        query = query.where(ChatMessage.created_at < before)
    rows = await session.scalars(
        query.order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(limit)
    )
    return list(reversed(list(rows)))


async def add_message(
    session: AsyncSession, chat: ChatSession, message_id: uuid.UUID | None = None, **values: Any
) -> ChatMessage:
    """Append a message and keep the chat's counters, preview and title current."""
    message = append(session, chat, message_id, **values)
    await session.flush()
    return message


def append(
    session: AsyncSession, chat: ChatSession, message_id: uuid.UUID | None = None, **values: Any
) -> ChatMessage:
    """:func:`add_message` left to the session's next flush."""
    message = ChatMessage(
        id=message_id or uuid.uuid4(), session_id=chat.id, user_id=chat.user_id, **values
    )
    message.created_at = max(utcnow(), chat.last_message_at)  # strictly ordered in a chat
    session.add(message)
    chat.message_count += 1
    chat.last_message_at = message.created_at
    chat.preview = message.content[:PREVIEW_CHARS] or chat.preview
    if chat.title is None and message.role == "user":
        chat.title = (message.content or "사진 분리배출 문의")[:TITLE_CHARS]
    return message


# --- single statements for the answer path: no ORM unit of work, few round trips ----------

_sessions = cast("Table", ChatSession.__table__)
_messages = cast("Table", ChatMessage.__table__)
_asked = _messages.alias("asked")
_answer = _messages.alias("answer")


_SQL_TYPES: dict[Any, Any] = {
    uuid.UUID: Uuid,
    datetime: DateTime(timezone=True),
    int: Integer,
    str: Text,
}


def batch(name: str, row: type[msgspec.Struct]) -> TableValuedAlias:
    """Rows (``row`` structs) passed as one JSON array in the parameter ``name`` (see
    :func:`batch_json`), with their place in it (``item``): one parameter whatever the batch
    size, and no array type for asyncpg to look up on every new connection."""
    columns = [column("item", Integer)]
    for field in msgspec.structs.fields(row):
        kinds = [kind for kind in get_args(field.type) if kind is not NoneType] or [field.type]
        columns.append(column(field.name, _SQL_TYPES[kinds[0]]))
    rows = func.jsonb_to_recordset(bindparam(name, type_=Text).cast(JSONB))
    return rows.table_valued(*columns).render_derived(name, with_types=True)


def batch_json(rows: Sequence[msgspec.Struct]) -> str:
    """The parameter of a :func:`batch`: each row numbered (``item``, from 1) in order."""
    items = [{"item": n, **msgspec.structs.asdict(row)} for n, row in enumerate(rows, 1)]
    return msgspec.json.encode(items).decode()


class StateKey(msgspec.Struct, frozen=True):
    """A row of the ``jobs`` of :data:`ANSWER_STATES`."""

    chat_id: uuid.UUID
    asked_id: uuid.UUID
    answer_id: uuid.UUID


class AnswerRow(msgspec.Struct, frozen=True):
    """A row of the ``answers`` of :data:`RECORD_ANSWERS`: the answer ``message_id``, the chat
    and its ``seen`` message count, ``now``, ``new_preview`` (:func:`appended_values`), the
    chat's new memory (``new_context``: JSON text) and the message's columns."""

    message_id: uuid.UUID
    now: datetime
    new_preview: str | None
    chat_id: uuid.UUID
    seen: int
    new_summary: str
    new_context: str
    content: str
    intent: str | None
    category: str | None
    model: str | None


_jobs = batch("jobs", StateKey)
_earlier = (
    select(_messages.c.role, _messages.c.content, _messages.c.created_at, _messages.c.id)
    .where(_messages.c.session_id == ChatSession.id, _messages.c.created_at < _asked.c.created_at)
    .order_by(_messages.c.created_at.desc(), _messages.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
    .lateral("earlier")
)
ANSWER_STATES = (
    select(
        _jobs.c.item,
        ChatSession.summary,
        ChatSession.context,
        ChatSession.message_count,
        _asked.c.id.label("asked"),
        _answer.c.content.label("answer"),
        _answer.c.intent,
        _answer.c.category,
        _answer.c.model,
        _answer.c.created_at.label("answered_at"),
        _earlier.c.role,
        _earlier.c.content,
    )
    .select_from(_jobs)
    .join(ChatSession, ChatSession.id == _jobs.c.chat_id)
    .outerjoin(
        _asked,
        and_(_asked.c.id == _jobs.c.asked_id, _asked.c.session_id == ChatSession.id),
    )
    .outerjoin(_answer, _answer.c.id == _jobs.c.answer_id)
    .outerjoin(_earlier, true())
    .order_by(_jobs.c.item, _earlier.c.created_at, _earlier.c.id)
)
"""What answering messages needs, for many jobs (a :func:`batch` of :class:`StateKey`) in one
read: per job (``item``) and earlier message (the last ``limit`` before the asked one, oldest
first; one row with no message when there is none) the chat's ``summary``, ``context`` and
``message_count``, whether the asked message is still there (``asked``) and the answer if an
earlier attempt stored it (``answer``, ...). No row for a job: its chat is gone (its messages
with it)."""


def _appended(
    where: ColumnElement[bool], values: dict[str, Any], role: str, message: dict[str, Any]
) -> Insert:
    """One statement that appends messages to chats and moves each chat's counters on, as
    :func:`append` does: the chat's row is updated (and locked) only where ``where`` holds and
    the message is not stored yet, and the message is inserted only with it. A statement is
    atomic: all or nothing.

    ``message`` holds its ``id``, ``now``, ``new_preview`` and its other columns: bind
    parameters (one message per execution) or the columns of a :func:`batch` that ``where``
    joins (one message per chat and execution: a chat that two rows join takes one of them)."""
    columns = {name: value for name, value in message.items() if name not in ("now", "new_preview")}
    chat = (
        update(_sessions)
        .where(where, ~exists().where(_messages.c.id == message["id"]))
        .values(
            message_count=_sessions.c.message_count + 1,
            last_message_at=func.greatest(message["now"], _sessions.c.last_message_at),
            preview=func.coalesce(message["new_preview"], _sessions.c.preview),
            **values,
        )
        .returning(
            _sessions.c.id.label("chat_id"),
            _sessions.c.user_id,
            _sessions.c.last_message_at,
            *(value.label(name) for name, value in columns.items()),
        )
        .cte("chat")
    )
    row = select(
        chat.c.chat_id,
        chat.c.user_id,
        literal(role, String),
        chat.c.last_message_at,
        *(chat.c[name] for name in columns),
    )
    names = ["session_id", "user_id", "role", "created_at", *columns]
    return insert(_messages).from_select(names, row).add_cte(chat)


_answers = batch("answers", AnswerRow)
RECORD_ANSWERS = _appended(
    and_(
        _sessions.c.id == _answers.c.chat_id,
        _sessions.c.message_count == _answers.c.seen,
        # the chats locked in one order first: no deadlock with a concurrent batch
        _sessions.c.id.in_(
            select(_sessions.c.id)
            .where(_sessions.c.id.in_(select(_answers.c.chat_id)))
            .order_by(_sessions.c.id)
            .with_for_update(key_share=True)
        ),
    ),
    {"summary": _answers.c.new_summary, "context": _answers.c.new_context.cast(JSONB)},
    "assistant",
    {
        "id": _answers.c.message_id,
        **{
            name: _answers.c[name]
            for name in ("now", "new_preview", "content", "intent", "category", "model")
        },
    },
).returning(_messages.c.id, _messages.c.created_at)
"""Store answers (a :func:`batch` of :class:`AnswerRow`), each with its chat's new memory
(``new_summary``, ``new_context``) if the chat still has the ``seen`` messages it had when the
answer was composed (else nothing: the caller takes the locked path); returns the stored
answers' ``id`` and ``created_at``."""

ADD_USER_MESSAGE = _appended(
    and_(
        _sessions.c.id == bindparam("chat_id", type_=Uuid),
        _sessions.c.user_id == bindparam("owner", type_=Uuid),
    ),
    {"title": func.coalesce(_sessions.c.title, bindparam("new_title", type_=String))},
    "user",
    {
        "id": bindparam("message_id", type_=Uuid),
        "now": bindparam("now", type_=DateTime(timezone=True)),
        "new_preview": bindparam("new_preview", type_=String),
        "content": bindparam("content", type_=Text),
        "image_url": bindparam("image_url", type_=String),
    },
)

OWNERS = select(_sessions.c.id, _sessions.c.user_id).where(
    _sessions.c.id == any_(bindparam("ids", type_=ARRAY(Uuid)))
)


def appended_values(message_id: uuid.UUID, content: str) -> dict[str, Any]:
    """The values of a message every :func:`_appended` statement takes."""
    return {
        "message_id": message_id,
        "now": utcnow(),
        "new_preview": content[:PREVIEW_CHARS] or None,
    }


async def add_user_messages(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[Exception | None]:
    """Store a batch of users' messages (``owner``, ``chat_id``, ``message_id``, ``content``,
    ``image_url``) in two statements: per row, :func:`not_found` when the chat is not the
    owner's, else ``None`` (a message already stored, by a retried submit, is kept as it is)."""
    found = await session.execute(OWNERS, {"ids": list({row["chat_id"] for row in rows})})
    owners = {chat_id: owner for chat_id, owner in found}
    outcomes: list[Exception | None] = []
    writes: list[dict[str, Any]] = []
    for row in rows:
        if owners.get(row["chat_id"]) != row["owner"]:
            outcomes.append(not_found())
            continue
        content = row["content"]
        writes.append(
            {
                **appended_values(row["message_id"], content),
                "chat_id": row["chat_id"],
                "owner": row["owner"],
                "new_title": (content or "사진 분리배출 문의")[:TITLE_CHARS],
                "content": content,
                "image_url": row["image_url"],
            }
        )
        outcomes.append(None)
    if writes:  # chats locked in one order (no deadlock), each chat's messages in theirs
        writes.sort(key=lambda write: write["chat_id"])
        await session.execute(ADD_USER_MESSAGE, writes)
    return outcomes


async def delete_chat(session: AsyncSession, chat: ChatSession) -> None:
    await session.execute(delete(ChatSession).where(ChatSession.id == chat.id))


async def rename(session: AsyncSession, chat: ChatSession, title: str) -> None:
    await session.execute(update(ChatSession).where(ChatSession.id == chat.id).values(title=title))
    chat.title = title


async def forget(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(ChatMessage).where(ChatMessage.user_id == user_id))
    await session.execute(delete(ChatSession).where(ChatSession.user_id == user_id))
