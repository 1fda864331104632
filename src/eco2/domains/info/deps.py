"""The info service: built when the domain starts (the retriever warms up in the background,
the controllers' ``warm_ups``), handed to handlers as ``info: Info``."""

from __future__ import annotations

import asyncio
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
    yield InfoService(await asyncio.to_thread(load_knowledge))


dependencies = {"info": service_dependency("info", InfoService)}
