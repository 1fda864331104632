"""The process-wide chat service as a dependency: ``chats: Chats``."""

from __future__ import annotations

from typing import TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.domains.chat.services import ChatService

Chats: TypeAlias = NamedDependency[ChatService]


def provide_chats(state: State) -> ChatService:
    service: ChatService = state.chat_service
    return service


dependencies = {"chats": Provide(provide_chats, sync_to_thread=False)}
