"""``/api/v1/chat``: the legacy message call, chat sessions, messages as jobs streamed over SSE."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from eco2.domains.chat import services, store
from eco2.domains.chat.deps import Chats, dependencies
from eco2.domains.chat.schemas import (
    ChatCreated,
    ChatDetail,
    ChatPage,
    CreateChat,
    Deleted,
    JobAccepted,
    LegacyAnswer,
    LegacyMessage,
    RenameChat,
    SendMessage,
)
from eco2.knowledge import default_retriever
from eco2.platform.di import AuthRequest, DbSession
from eco2.platform.errors import NotFound
from eco2.platform.ids import parse_user_id
from eco2.platform.jobs import last_event_id
from eco2.registry import API

Limit = Annotated[int, QueryParameter(ge=1, le=100)]


@post("/messages", status_code=HTTP_200_OK, summary="Send a message and wait for the answer")
async def legacy_message(
    request: AuthRequest, chats: Chats, data: JSONBody[LegacyMessage]
) -> LegacyAnswer:
    async with chats.limit(request.user.user_id):
        return await chats.legacy(request.user.user_id, data)


@get("/", summary="My chats, most recently active first")
async def list_chats(
    request: AuthRequest,
    db_session: DbSession,
    limit: Limit = 20,
    cursor: FromQuery[str | None] = None,
) -> ChatPage:
    return await store.chats(db_session, parse_user_id(request.user.user_id), limit, cursor)


@post("/", status_code=HTTP_201_CREATED, summary="Start a chat")
async def create_chat(
    request: AuthRequest, db_session: DbSession, data: JSONBody[CreateChat | None] = None
) -> ChatCreated:
    title = data.title if data else None
    chat = await store.create(db_session, parse_user_id(request.user.user_id), title)
    return ChatCreated(id=str(chat.id), title=chat.title, created_at=chat.created_at)


@get("/{chat_id:str}", summary="A chat with its messages (newest page first)")
async def chat_detail(
    request: AuthRequest,
    db_session: DbSession,
    chat_id: FromPath[str],
    limit: Limit = 20,
    cursor: FromQuery[str | None] = None,
) -> ChatDetail:
    chat = await store.owned(db_session, parse_user_id(request.user.user_id), chat_id)
    return await store.detail(db_session, chat, limit, cursor)


@patch("/{chat_id:str}", summary="Rename a chat")
async def rename_chat(
    request: AuthRequest,
    db_session: DbSession,
    chat_id: FromPath[str],
    data: JSONBody[RenameChat],
) -> ChatCreated:
    chat = await store.owned(db_session, parse_user_id(request.user.user_id), chat_id)
    await store.rename(db_session, chat, data.title)
    return ChatCreated(id=str(chat.id), title=chat.title, created_at=chat.created_at)


@delete("/{chat_id:str}", status_code=HTTP_200_OK, summary="Delete a chat and its messages")
async def delete_chat(
    request: AuthRequest, db_session: DbSession, chat_id: FromPath[str]
) -> Deleted:
    chat = await store.owned(db_session, parse_user_id(request.user.user_id), chat_id)
    await store.delete_chat(db_session, chat)
    return Deleted(id=chat_id)


@post(
    "/{chat_id:str}/messages",
    status_code=HTTP_202_ACCEPTED,
    summary="Send a message; follow the answer over SSE",
)
async def send_message(
    request: AuthRequest, chats: Chats, chat_id: FromPath[str], data: JSONBody[SendMessage]
) -> JobAccepted:
    async with chats.limit(request.user.user_id):
        return await chats.submit(request.user.user_id, chat_id, data)


@get("/{job_id:str}/events", summary="Answer events (SSE; resumable with Last-Event-ID)")
async def events(request: AuthRequest, chats: Chats, job_id: FromPath[str]) -> ServerSentEvent:
    if await chats.hub.owner(job_id) != request.user.user_id:
        raise NotFound("답변 작업을 찾을 수 없습니다.", code="chat_job_not_found")
    return chats.hub.sse(job_id, last_event_id(request), keepalive_event="keepalive")


chat_router = Router(
    f"{API}/chat",
    route_handlers=[
        legacy_message,
        list_chats,
        create_chat,
        chat_detail,
        rename_chat,
        delete_chat,
        send_message,
        events,
    ],
    dependencies=dependencies,
    tags=["chat"],
)

route_handlers = [chat_router]
on_startup = [services.start]
warm_ups = {"knowledge": default_retriever}
on_shutdown = [services.stop]
