"""The news service as a dependency (``news: News``) and its start and stop: built once the
process-wide clients exist, collecting on its schedule until the domain stops."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.domains.info.news import NewsService, run_on_schedule
from eco2.platform.runtime import Runtime

News: TypeAlias = NamedDependency[NewsService]


def provide_news(state: State) -> NewsService:
    service: NewsService = state.news_service
    return service


async def start_news(app: Litestar) -> None:
    runtime: Runtime = app.state.runtime
    service = NewsService(runtime.settings, runtime.sessions, runtime.http, runtime.redis)
    app.state.news_service = service
    if service.interval and service.sources():
        app.state.news_schedule = asyncio.create_task(run_on_schedule(service))


async def stop_news(app: Litestar) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "news_schedule", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


dependencies = {"news": Provide(provide_news, sync_to_thread=False)}
