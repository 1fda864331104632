"""The chat service: built when the domain starts, handed to handlers as ``chats: Chats``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.chat.services import ChatService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Chats: TypeAlias = NamedDependency[ChatService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[ChatService]:
    service = await ChatService.start(runtime)
    try:
        yield service
    finally:
        await service.close()


dependency = ServiceDependency("chats", ChatService)
