"""The info service: built (and the retriever warmed) when the domain starts, handed to
handlers as ``info: Info``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.info.services import InfoService
from eco2.knowledge import load_knowledge
from eco2.platform.di import service_dependency
from eco2.platform.runtime import Runtime

Info: TypeAlias = NamedDependency[InfoService]


@asynccontextmanager
async def lifecycle(_: Runtime) -> AsyncIterator[InfoService]:
    service = InfoService(load_knowledge())
    await service.warm_up()
    yield service


dependencies = {"info": service_dependency("info", InfoService)}
