"""The info service: built when the domain starts (the retriever warms up in the background,
the controllers' ``warm_ups``; the news collection is a periodic job of info's queue), handed
to handlers as ``info: Info``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.info import news
from eco2.domains.info.services import InfoService
from eco2.knowledge import load_knowledge
from eco2.platform.di import ServiceDependency
from eco2.platform.jobs import Periodic
from eco2.platform.runtime import Runtime

Info: TypeAlias = NamedDependency[InfoService]
EVERY_15_SECONDS = "*/15 * * * * * *"  # crontab with seconds first


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[InfoService]:
    service = InfoService(
        await asyncio.to_thread(load_knowledge),
        runtime.settings,
        runtime.sessions,
        runtime.http,
        runtime.redis,
    )
    if service.collects_on_schedule:
        # Checked every 15 s by one worker (a first run soon after a deployment); a run
        # happens once the interval has passed.
        collect = service.collect_if_due
        runtime.jobs.queue("info").periodic(
            Periodic("info.collect_news", collect, EVERY_15_SECONDS, news.LEASE_SECONDS)
        )
    yield service


dependency = ServiceDependency("info", InfoService)
