"""The auth service: built when the domain starts, handed to handlers as ``auth: Auth``; the
revocation outbox's relay runs as long as the domain does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.auth.revocations import Relay
from eco2.domains.auth.services import AuthService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Auth: TypeAlias = NamedDependency[AuthService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[AuthService]:
    relay = Relay(runtime)
    relay.start()
    try:
        yield AuthService(runtime)
    finally:
        await relay.close()


dependency = ServiceDependency("auth", AuthService)
