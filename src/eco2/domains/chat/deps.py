"""The process-wide chat service: built when the domain starts, handed to handlers as
``chats: Chats``."""

from __future__ import annotations

from typing import TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.domains.chat.services import ChatService
from eco2.domains.chat.tools import Toolbox

Chats: TypeAlias = NamedDependency[ChatService]


async def start(app: Litestar) -> None:
    runtime = app.state.runtime
    app.state.chat_service = await ChatService.start(runtime, Toolbox(runtime, app.state))


async def stop(app: Litestar) -> None:
    """Runs only after ``start`` succeeded (the app's domain lifecycle)."""
    service: ChatService = app.state.chat_service
    await service.close()


def provide_chats(state: State) -> ChatService:
    service: ChatService = state.chat_service
    return service


dependencies = {"chats": Provide(provide_chats, sync_to_thread=False)}
