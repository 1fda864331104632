"""The bodies of `eco2 data import-news` and `eco2 data collect-news`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy.ext.asyncio import create_async_engine

from eco2.domains.info.feeds import Category, Draft, parse_saved
from eco2.domains.info.news import CollectReport
from eco2.domains.info.services import InfoService
from eco2.knowledge import load_knowledge
from eco2.platform.db import async_url, session_factory, utcnow
from eco2.settings import Settings


@asynccontextmanager
async def info_service(settings: Settings) -> AsyncIterator[InfoService]:
    """The service on its own clients (no Redis: a command runs now, not on the schedule)."""
    engine = create_async_engine(async_url(settings.database_url or ""))
    try:
        async with httpx.AsyncClient(timeout=settings.news_fetch_timeout_seconds) as http:
            yield InfoService(load_knowledge(), settings, session_factory(engine), http)
    finally:
        await engine.dispose()


async def import_drafts(settings: Settings, drafts: list[Draft]) -> int:
    """How many of ``drafts`` were new to the feed."""
    async with info_service(settings) as service:
        return await service.import_news(drafts)


async def collect(settings: Settings) -> CollectReport:
    async with info_service(settings) as service:
        return await service.collect_news()


def run_import(settings: Settings, path: Path, category: Category | None, console: Console) -> None:
    drafts = parse_saved(path.read_bytes(), category, utcnow())
    added = asyncio.run(import_drafts(settings, drafts))
    console.print(f"뉴스 가져오기: {path.name}에서 {len(drafts)}건, 새로 추가 {added}건")


def run_collect(settings: Settings, console: Console) -> CollectReport:
    report = asyncio.run(collect(settings))
    console.print(
        f"뉴스 수집: 출처 {report.sources}곳 (실패 {len(report.failed)}곳), "
        f"기사 {report.seen}건 중 새로 추가 {report.added}건, "
        f"보관 기간이 지나 삭제 {report.pruned}건"
    )
    for failure in report.failed:
        console.print(f"  [yellow]실패[/] {failure}")
    return report
