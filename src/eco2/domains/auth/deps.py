"""The auth service: built when the domain starts, handed to handlers as ``auth: Auth``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.auth.services import AuthService
from eco2.platform.di import service_dependency
from eco2.platform.runtime import Runtime

Auth: TypeAlias = NamedDependency[AuthService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[AuthService]:
    yield AuthService(runtime)


dependencies = {"auth": service_dependency("auth", AuthService)}
