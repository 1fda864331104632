"""Chat sessions and messages in PostgreSQL: owner-checked reads, keyset pages, writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

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
_jobs = (
    func.unnest(
        bindparam("chat_ids", type_=ARRAY(Uuid)),
        bindparam("asked_ids", type_=ARRAY(Uuid)),
        bindparam("answer_ids", type_=ARRAY(Uuid)),
    )
    .table_valued(
        column("chat_id", Uuid),
        column("asked_id", Uuid),
        column("answer_id", Uuid),
        with_ordinality="job",
    )
    .render_derived("jobs")
)
_earlier = (
    select(_messages.c.role, _messages.c.content, _messages.c.created_at, _messages.c.id)
    .where(_messages.c.session_id == ChatSession.id, _messages.c.created_at < _asked.c.created_at)
    .order_by(_messages.c.created_at.desc(), _messages.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
    .lateral("earlier")
)
ANSWER_STATES = (
    select(
        _jobs.c.job,
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
    .order_by(_jobs.c.job, _earlier.c.created_at, _earlier.c.id)
)
"""What answering messages needs, for many jobs (``chat_ids``, ``asked_ids`` and
``answer_ids`` side by side) in one read: per job (``job``: its 1-based place in the arrays)
and earlier message (the last ``limit`` before the asked one, oldest first; one row with no
message when there is none) the chat's ``summary``, ``context`` and ``message_count``, whether
the asked message is still there (``asked``) and the answer if an earlier attempt stored it
(``answer``, ...). No row for a job: its chat is gone (its messages with it)."""


def _appended(
    where: ColumnElement[bool], values: dict[str, Any], role: str, **columns: Any
) -> Insert:
    """One statement that appends a message (``message_id``, ``now``, ``preview``) to a chat
    and moves the chat's counters on, as :func:`append` does: the chat's row is updated (and
    locked) only where ``where`` holds and the message is not stored yet, and the message is
    inserted only with it. A statement is atomic: both or neither."""
    message_id = bindparam("message_id", type_=Uuid)
    chat = (
        update(_sessions)
        .where(where, ~exists().where(_messages.c.id == message_id))
        .values(
            message_count=_sessions.c.message_count + 1,
            last_message_at=func.greatest(
                bindparam("now", type_=DateTime(timezone=True)), _sessions.c.last_message_at
            ),
            preview=func.coalesce(bindparam("new_preview", type_=String), _sessions.c.preview),
            **values,
        )
        .returning(_sessions.c.id, _sessions.c.user_id, _sessions.c.last_message_at)
        .cte("chat")
    )
    names = ["id", "session_id", "user_id", "role", "created_at", *columns]
    row = select(
        message_id,
        chat.c.id,
        chat.c.user_id,
        literal(role, String),
        chat.c.last_message_at,
        *columns.values(),
    )
    return insert(_messages).from_select(names, row).add_cte(chat)


RECORD_ANSWER = _appended(
    and_(
        _sessions.c.id == bindparam("chat_id", type_=Uuid),
        _sessions.c.message_count == bindparam("seen", type_=Integer),
    ),
    {
        "summary": bindparam("new_summary", type_=Text),
        "context": bindparam("new_context", type_=JSONB),
    },
    "assistant",
    content=bindparam("content", type_=Text),
    intent=bindparam("intent", type_=String),
    category=bindparam("category", type_=String),
    model=bindparam("model", type_=String),
).returning(_messages.c.created_at)
"""Store an answer with the chat's new memory (``new_summary``, ``new_context``) if the chat
still has the ``seen`` messages it had when the answer was composed (else nothing: the caller
takes the locked path); returns the answer's ``created_at``."""

ADD_USER_MESSAGE = _appended(
    and_(
        _sessions.c.id == bindparam("chat_id", type_=Uuid),
        _sessions.c.user_id == bindparam("owner", type_=Uuid),
    ),
    {"title": func.coalesce(_sessions.c.title, bindparam("new_title", type_=String))},
    "user",
    content=bindparam("content", type_=Text),
    image_url=bindparam("image_url", type_=String),
)

OWNERS = select(_sessions.c.id, _sessions.c.user_id).where(
    _sessions.c.id == any_(bindparam("ids", type_=ARRAY(Uuid)))
)


def appended_values(message_id: uuid.UUID, content: str) -> dict[str, Any]:
    """The parameters every :func:`_appended` statement takes."""
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
