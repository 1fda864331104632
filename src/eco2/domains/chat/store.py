"""Chat sessions and messages in PostgreSQL: owner-checked reads, keyset pages, writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
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


async def add_user_messages(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[Exception | None]:
    """Store a batch of users' messages (``owner``, ``chat_id``, ``message_id``, ``content``,
    ``image_url``) in a few statements: per row, :func:`not_found` when the chat is not the
    owner's, else ``None`` (a message already stored, by a retried submit, is kept as it is)."""
    chat_ids = sorted({row["chat_id"] for row in rows})  # locked in one order: no deadlock
    chats = {
        chat.id: chat
        for chat in await session.scalars(
            select(ChatSession)
            .where(ChatSession.id.in_(chat_ids))
            .order_by(ChatSession.id)
            .with_for_update()
        )
    }
    stored = set(
        await session.scalars(
            select(ChatMessage.id).where(ChatMessage.id.in_([row["message_id"] for row in rows]))
        )
    )
    outcomes: list[Exception | None] = []
    for row in rows:
        chat = chats.get(row["chat_id"])
        if chat is None or chat.user_id != row["owner"]:
            outcomes.append(not_found())
            continue
        if row["message_id"] not in stored:
            stored.add(row["message_id"])
            append(
                session,
                chat,
                row["message_id"],
                role="user",
                content=row["content"],
                image_url=row["image_url"],
            )
        outcomes.append(None)
    await session.flush()
    return outcomes


async def delete_chat(session: AsyncSession, chat: ChatSession) -> None:
    await session.execute(delete(ChatSession).where(ChatSession.id == chat.id))


async def rename(session: AsyncSession, chat: ChatSession, title: str) -> None:
    await session.execute(update(ChatSession).where(ChatSession.id == chat.id).values(title=title))
    chat.title = title


async def forget(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(ChatMessage).where(ChatMessage.user_id == user_id))
    await session.execute(delete(ChatSession).where(ChatSession.user_id == user_id))
