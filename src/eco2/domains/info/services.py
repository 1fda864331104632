"""Item search and the taxonomy, straight from the knowledge library (``eco2.knowledge``), and
the Info tab's news.

The news is collected by :meth:`InfoService.collect_news`: one idempotent run over every
configured source (an article is keyed by its canonical URL; a source that fails is logged and
skipped). :meth:`InfoService.collect_if_due` runs it once the interval has passed, once across
all processes (a Redis lease; "due" is read from the database); info's periodic job calls it
every minute (``deps.lifecycle``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import httpx
import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eco2.domains.info import news
from eco2.domains.info.feeds import Category, Draft
from eco2.domains.info.news import CollectReport
from eco2.domains.info.schemas import (
    ItemDetail,
    ItemResult,
    MajorCategory,
    MiddleCategory,
    NewsMeta,
    NewsPage,
)
from eco2.knowledge import Item, KnowledgeBase, search
from eco2.platform.db import utcnow
from eco2.platform.errors import NotFound
from eco2.platform.outbound import Limits
from eco2.settings import Settings

log = structlog.get_logger(__name__)


class InfoService:
    def __init__(
        self,
        kb: KnowledgeBase,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        redis: Redis | None = None,
    ) -> None:
        self._kb = kb
        self._settings, self._sessions, self._http, self._redis = settings, sessions, http, redis
        self._interval = settings.news_collect_interval_seconds
        self._sources = news.sources(settings)
        self._limits = Limits(
            max_bytes=settings.news_max_feed_bytes,
            timeout_seconds=settings.news_fetch_timeout_seconds,
            allow_private=settings.news_fetch_private_hosts,
        )
        self._page_limits = replace(
            self._limits,
            max_bytes=news.PAGE_BYTES,
            timeout_seconds=min(news.PAGE_TIMEOUT_SECONDS, settings.news_fetch_timeout_seconds),
        )

    async def items(
        self, q: str | None, middle_category: str | None, limit: int
    ) -> list[ItemResult]:
        """Ranked hits for ``q`` (best first), or the items of a category in catalogue order."""
        if not q or not q.strip():
            found = [i for i in self._kb.items() if middle_category in (None, i.middle)]
            return [to_item_result(i) for i in found[:limit]]
        hits = await asyncio.to_thread(search, q, limit * 2 if middle_category else limit)
        ranked = [h for h in hits if h.lexical > 0]
        if middle_category:
            ranked = [h for h in ranked if h.item.middle == middle_category]
        return [to_item_result(h.item, h.score) for h in ranked[:limit]]

    def item(self, item_id: str) -> ItemDetail:
        try:
            found = self._kb.item(item_id)
        except KeyError:
            raise NotFound("해당 품목을 찾을 수 없습니다.", code="item_not_found") from None
        return ItemDetail(
            item=to_item_result(found), rules=self._kb.rules_for(found.major, found.middle)
        )

    def categories(self) -> list[MajorCategory]:
        return [
            MajorCategory(
                name=major.name,
                code=major.code,
                recyclable=major.recyclable,
                middle_categories=[
                    MiddleCategory(m.name, m.code, m.pickup_category, list(m.minors))
                    for m in major.middles
                ],
            )
            for major in self._kb.taxonomy.majors
        ]

    # --- news -------------------------------------------------------------------------------

    @property
    def collects_on_schedule(self) -> bool:
        return bool(self._interval and self._sources)

    async def news(self, category: Category | None, limit: int, cursor: str | None) -> NewsPage:
        async with self._sessions() as session:
            page, total = await news.page_of(session, category, limit, cursor)
            last_run = await news.last_run(session)
        interval = self._interval if self._sources else 0
        return NewsPage(
            articles=[news.to_article_view(row) for row in page.rows],
            next_cursor=page.next_cursor,
            has_more=page.has_more,
            meta=NewsMeta(
                total_cached=total,
                cache_expires_in=news.expires_in(interval, last_run, utcnow()),
            ),
        )

    async def collect_news(self) -> CollectReport:
        """One collection run over every configured source; safe to repeat at any time."""
        report = CollectReport(sources=len(self._sources))
        if not self._sources:
            return report
        now = utcnow()
        async with asyncio.timeout(news.RUN_SECONDS):
            async with self._sessions() as session:
                known = await news.known_feeds(session)
            fetched = await news.gathered(
                [
                    news.from_source(
                        self._http, self._limits, self._settings, s, known.get(s.url), now, report
                    )
                    for s in self._sources
                ]
            )
            drafts = news.first_per_url(d for found, _ in fetched for d in found)
            report.seen = len(drafts)
            async with self._sessions() as session:
                new = await news.unseen(session, drafts)
            new = await self._with_pages(new)
            new = await asyncio.to_thread(news.with_keywords, new)
            cutoff = now - timedelta(days=self._settings.news_retention_days)
            async with self._sessions.begin() as session:
                report.added = await news.store(session, new)
                report.pruned = await news.prune(session, cutoff)
                await news.remember(session, self._sources, [state for _, state in fetched], now)
        log.info(
            "news_collected",
            sources=report.sources,
            failed=report.failed,
            seen=report.seen,
            added=report.added,
            pruned=report.pruned,
        )
        return report

    async def _with_pages(self, drafts: list[Draft]) -> list[Draft]:
        """New articles without a picture get one from their page, for at most the configured
        number of pages a run."""
        budget = self._settings.news_page_lookups_per_run
        lacking = [i for i, d in enumerate(drafts) if d.thumbnail_url is None][:budget]
        looked = await news.gathered(
            [news.from_page(self._http, self._page_limits, drafts[i]) for i in lacking]
        )
        enriched = list(drafts)
        for i, draft in zip(lacking, looked, strict=True):
            enriched[i] = draft
        return enriched

    async def import_news(self, drafts: Sequence[Draft]) -> int:
        """Saved articles (``eco2 data import-news``): keywords added, nothing fetched; returns
        how many were new."""
        ready = await asyncio.to_thread(news.with_keywords, news.first_per_url(drafts))
        async with self._sessions.begin() as session:
            return await news.store(session, ready)

    async def collect_if_due(self) -> CollectReport | None:
        """The scheduled run: only when the last run is an interval old, and only in one
        process at a time (a Redis lease); None when it was not this process's turn."""
        if not self.collects_on_schedule or self._redis is None:
            return None
        async with self._sessions() as session:
            last_run = await news.last_run(session)
        if last_run is not None and utcnow() - last_run < timedelta(seconds=self._interval):
            return None
        token = secrets.token_hex(8)
        if not await self._redis.set(news.LEASE_KEY, token, nx=True, ex=news.LEASE_SECONDS):
            return None
        try:
            return await self.collect_news()
        finally:
            if await self._redis.get(news.LEASE_KEY) == token.encode():
                await self._redis.delete(news.LEASE_KEY)


def to_item_result(item: Item, score: float | None = None) -> ItemResult:
    return ItemResult(
        id=item.id,
        name=item.name,
        major_category=item.major,
        middle_category=item.middle,
        minor_category=item.minor,
        synonyms=list(item.synonyms),
        note=item.note,
        score=round(score, 4) if score is not None else None,
    )
