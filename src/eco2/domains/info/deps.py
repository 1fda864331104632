"""The info service: built when the domain starts (the retriever warms up in the background,
the controllers' ``warm_ups``; the news is collected on its schedule), handed to handlers as
``info: Info``."""

from __future__ import annotations

import asyncio
import contextlib
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
async def lifecycle(runtime: Runtime) -> AsyncIterator[InfoService]:
    service = InfoService(
        await asyncio.to_thread(load_knowledge),
        runtime.settings,
        runtime.sessions,
        runtime.http,
        runtime.redis,
    )
    schedule = (
        asyncio.create_task(service.collect_on_schedule()) if service.collects_on_schedule else None
    )
    try:
        yield service
    finally:
        if schedule is not None:
            schedule.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schedule


dependencies = {"info": service_dependency("info", InfoService)}
