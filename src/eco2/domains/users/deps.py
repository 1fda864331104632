"""The users service: built when the domain starts, handed to handlers as ``users: Users``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.users.services import UserService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Users: TypeAlias = NamedDependency[UserService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[UserService]:
    yield UserService(runtime)


dependency = ServiceDependency("users", UserService)
