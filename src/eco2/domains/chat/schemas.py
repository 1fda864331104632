"""Chat API shapes: the legacy message call (contract §3.11) and the session API (§7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

MessageText = Annotated[str, msgspec.Meta(max_length=2000)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ImageUrl = Annotated[str, msgspec.Meta(min_length=8, max_length=2048)]
Intent = Literal["disposal", "photo", "nearby", "character", "greeting", "general", "off_topic"]


class LegacyMessage(msgspec.Struct):
    """``POST /api/v1/chat/messages``: ``message`` may be ``""`` when only a photo is sent."""

    message: MessageText
    session_id: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.2
    image_url: ImageUrl | None = None


class LegacyAnswer(msgspec.Struct):
    session_id: str
    user_answer: str


class Position(msgspec.Struct):
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class SendMessage(msgspec.Struct):
    """``POST /api/v1/chat/{id}/messages``; ``model`` picks one of ``ECO2_CHAT_MODELS`` (an
    unknown or unconfigured name gets the default model)."""

    message: MessageText = ""
    image_url: ImageUrl | None = None
    user_location: Position | None = None
    model: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class CreateChat(msgspec.Struct):
    title: Title | None = None


class RenameChat(msgspec.Struct):
    title: Title


class ChatCreated(msgspec.Struct):
    id: str
    title: str | None
    created_at: datetime


class ChatSummary(msgspec.Struct):
    id: str
    title: str | None
    preview: str | None
    message_count: int
    last_message_at: datetime
    created_at: datetime


class ChatPage(msgspec.Struct):
    chats: list[ChatSummary]
    next_cursor: str | None


class MessageView(msgspec.Struct, omit_defaults=True):
    id: str
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime
    image_url: str | None = None
    model: str | None = None  # which model wrote an assistant message


class ChatDetail(msgspec.Struct):
    id: str
    title: str | None
    messages: list[MessageView]  # oldest first within the page; pages go back in time
    has_more: bool
    next_cursor: str | None
    created_at: datetime


class JobAccepted(msgspec.Struct):
    job_id: str
    stream_url: str
    status: Literal["submitted", "queued", "failed"]


class Persistence(msgspec.Struct):
    user_message: str
    assistant_message: str
    assistant_message_created_at: datetime


class DoneResult(msgspec.Struct):
    answer: str
    intent: str
    category: str | None
    persistence: Persistence
    model: str | None = None  # which model answered


class Deleted(msgspec.Struct):
    id: str
    deleted: bool = True
