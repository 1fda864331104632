"""``/api/v1/chat``: the legacy message call, chat sessions, messages as jobs streamed over SSE."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from eco2.domains.chat.deps import Chats
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
from eco2.platform import idempotency
from eco2.platform.di import AuthRequest
from eco2.platform.job_events import last_event_id, sse
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
    request: AuthRequest, chats: Chats, limit: Limit = 20, cursor: FromQuery[str | None] = None
) -> ChatPage:
    return await chats.chats(request.user.user_id, limit, cursor)


@post("/", status_code=HTTP_201_CREATED, summary="Start a chat")
async def create_chat(
    request: AuthRequest, chats: Chats, data: JSONBody[CreateChat | None] = None
) -> ChatCreated:
    return await chats.create(request.user.user_id, data.title if data else None)


@get("/{chat_id:str}", summary="A chat with its messages (newest page first)")
async def chat_detail(
    request: AuthRequest,
    chats: Chats,
    chat_id: FromPath[str],
    limit: Limit = 20,
    cursor: FromQuery[str | None] = None,
) -> ChatDetail:
    return await chats.detail(request.user.user_id, chat_id, limit, cursor)


@patch("/{chat_id:str}", summary="Rename a chat")
async def rename_chat(
    request: AuthRequest, chats: Chats, chat_id: FromPath[str], data: JSONBody[RenameChat]
) -> ChatCreated:
    return await chats.rename(request.user.user_id, chat_id, data.title)


@delete("/{chat_id:str}", status_code=HTTP_200_OK, summary="Delete a chat and its messages")
async def delete_chat(request: AuthRequest, chats: Chats, chat_id: FromPath[str]) -> Deleted:
    return await chats.delete(request.user.user_id, chat_id)


@post(
    "/{chat_id:str}/messages",
    status_code=HTTP_202_ACCEPTED,
    summary="Send a message; follow the answer over SSE",
    description="Send `Idempotency-Key` to make a retried send return the same job.",
)
async def send_message(
    request: AuthRequest, chats: Chats, chat_id: FromPath[str], data: JSONBody[SendMessage]
) -> JobAccepted:
    key = idempotency.request_key(request)
    return await chats.submit(request.user.user_id, chat_id, data, key)


@get("/{job_id:str}/events", summary="Answer events (SSE; resumable with Last-Event-ID)")
async def events(request: AuthRequest, chats: Chats, job_id: FromPath[str]) -> ServerSentEvent:
    return sse(await chats.stream(request.user.user_id, job_id, last_event_id(request)))


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
    tags=["chat"],
)

route_handlers = [chat_router]
warm_ups = {"knowledge": default_retriever}
