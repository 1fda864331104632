"""The Info tab's news: collected from the configured sources, stored, read page by page.

``NewsService.collect_news()`` is one idempotent collection run (an article is keyed by its
canonical URL; a source that fails is logged and skipped; nothing is fetched twice in a run);
:func:`run_on_schedule` is the small hook that calls it every interval, once across all
processes (a Redis lease, and "due" read from the database).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from redis.asyncio import Redis
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eco2.domains.info.feeds import (
    CATEGORIES,
    Category,
    Draft,
    FeedError,
    host_name,
    page_meta,
    parse_feed,
    parse_naver,
)
from eco2.domains.info.models import NewsArticle, NewsFeed
from eco2.domains.info.schemas import NewsArticleView, NewsMeta, NewsPage
from eco2.knowledge import nouns
from eco2.platform.db import utcnow
from eco2.platform.errors import InvalidInput
from eco2.platform.outbound import FetchError, Limits, fetch
from eco2.platform.pagination import newest_first
from eco2.settings import Settings

log = structlog.get_logger(__name__)

LEASE_KEY = "info:news:collect"
LEASE_SECONDS = 600  # longer than any run (RUN_SECONDS) so two never overlap
RUN_SECONDS = 300
TICK_SECONDS = 60
SOURCE_CONCURRENCY = 4
MAX_PER_SOURCE = 50
NAVER_DISPLAY = 30
PAGE_BYTES = 512 * 1024
PAGE_TIMEOUT_SECONDS = 5.0
KEYWORDS = 5
USER_AGENT = "Eco2NewsCollector/1.0 (+https://github.com/eco2-team)"
# Words every article has; they say nothing about this one.
STOP_WORDS = frozenset(
    [
        "기자",
        "뉴스",
        "사진",
        "제공",
        "오늘",
        "어제",
        "내일",
        "이번",
        "지난해",
        "올해",
        "내년",
        "관련",
        "대상",
        "경우",
        "이후",
        "이날",
        "정도",
        "가운데",
        "기사",
        "무단",
        "전재",
        "재배포",
        "금지",
        "저작권",
        "보도",
        "자료",
        "보도자료",
        "발표",
        "참고",
        "설명",
        "계획",
        "예정",
        "추진",
        "진행",
        "위해",
        "통해",
        "대한",
        "이상",
        "이하",
        "최근",
        "당시",
        "현재",
        "그동안",
        "등",
        "및",
    ]
)


@dataclass(frozen=True, slots=True)
class Source:
    """One place articles come from: a feed URL, or a Naver query (its request URL)."""

    category: Category
    url: str
    kind: str  # rss | naver


@dataclass(slots=True)
class CollectReport:
    sources: int = 0
    failed: list[str] = field(default_factory=list)  # "url: code"
    seen: int = 0
    added: int = 0
    pruned: int = 0


def keywords(draft: Draft) -> tuple[str, ...]:
    """The article's words that say what it is about: nouns of the title (twice the weight)
    and the snippet, common news words and the outlet's own name left out."""
    score: Counter[str] = Counter()
    order: dict[str, int] = {}
    for text, weight in ((draft.title, 2), (draft.snippet, 1)):
        for word in nouns(text):
            if len(word) < 2 or word in STOP_WORDS or word in draft.source_name:
                continue
            score[word] += weight
            order.setdefault(word, len(order))
    ranked = sorted(score, key=lambda w: (-score[w], order[w]))
    return tuple(w[:40] for w in ranked[:KEYWORDS])


def article_id(url: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, url)


def to_article_view(row: NewsArticle) -> NewsArticleView:
    return NewsArticleView(
        id=str(row.id),
        title=row.title,
        url=row.url,
        snippet=row.snippet,
        source=row.source,
        source_name=row.source_name,
        published_at=row.published_at,
        thumbnail_url=row.thumbnail_url,
        source_icon_url=row.source_icon_url,
        category=row.category,
        keywords=list(row.keywords) or None,
    )


def parse_category(raw: str | None) -> Category | None:
    if raw is None or raw == "":
        return None
    for category in CATEGORIES:
        if raw == category:
            return category
    raise InvalidInput(
        f"알 수 없는 분류입니다: {raw[:20]} (가능한 값: {', '.join(CATEGORIES)})",
        code="invalid_category",
        field="category",
    )


class NewsService:
    """Created once per process serving ``info``: reading the feed, collecting, importing."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        redis: Redis | None = None,
    ) -> None:
        self.settings, self.sessions, self.http, self.redis = settings, sessions, http, redis
        self.interval = settings.news_collect_interval_seconds
        self.limits = Limits(
            max_bytes=settings.news_max_feed_bytes,
            timeout_seconds=settings.news_fetch_timeout_seconds,
            allow_private=settings.news_fetch_private_hosts,
        )
        self.page_limits = replace(
            self.limits,
            max_bytes=PAGE_BYTES,
            timeout_seconds=min(PAGE_TIMEOUT_SECONDS, settings.news_fetch_timeout_seconds),
        )

    # --- reading ----------------------------------------------------------------------------

    async def page(self, category: Category | None, limit: int, cursor: str | None) -> NewsPage:
        query = select(NewsArticle)
        counted = select(func.count()).select_from(NewsArticle)
        if category is not None:
            query = query.where(NewsArticle.category == category)
            counted = counted.where(NewsArticle.category == category)
        async with self.sessions() as session:
            page = await newest_first(
                session,
                query,
                NewsArticle.published_at,
                NewsArticle.id,
                limit=limit,
                cursor=cursor,
            )
            total = await session.scalar(counted) or 0
            last_run = await session.scalar(select(func.max(NewsFeed.fetched_at)))
        return NewsPage(
            articles=[to_article_view(row) for row in page.rows],
            next_cursor=page.next_cursor,
            has_more=page.has_more,
            meta=NewsMeta(total_cached=total, cache_expires_in=self._expires_in(last_run)),
        )

    def _expires_in(self, last_run: datetime | None) -> int:
        """Seconds until the next scheduled collection may bring new articles."""
        if not self.interval or not self.sources() or last_run is None:
            return 0
        left = last_run + timedelta(seconds=self.interval) - utcnow()
        return max(0, int(left.total_seconds()))

    # --- collecting -------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        settings = self.settings
        feeds = [Source(c, url, "rss") for c, url in settings.news_feeds() if c in CATEGORIES]
        naver = [
            Source(c, f"{settings.news_naver_url}?{urlencode(_naver_params(q))}", "naver")
            for c, q in settings.naver_queries()
            if c in CATEGORIES
        ]
        return [*feeds, *naver]

    async def collect_news(self) -> CollectReport:
        """One collection run over every configured source; safe to repeat at any time."""
        sources = self.sources()
        report = CollectReport(sources=len(sources))
        if not sources:
            return report
        now = utcnow()
        async with asyncio.timeout(RUN_SECONDS):
            validators = await self._validators()
            gate = asyncio.Semaphore(SOURCE_CONCURRENCY)
            fetched = await asyncio.gather(
                *(self._from_source(s, validators.get(s.url), now, gate, report) for s in sources)
            )
            drafts = _first_per_url(d for found, _ in fetched for d in found)
            report.seen = len(drafts)
            new = await self._unseen(drafts)
            new = await self._enrich(new)
            report.added = await self.store(new)
            report.pruned = await self._prune(now)
            await self._remember(sources, [state for _, state in fetched], now)
        log.info(
            "news_collected",
            sources=report.sources,
            failed=report.failed,
            seen=report.seen,
            added=report.added,
            pruned=report.pruned,
        )
        return report

    async def _validators(self) -> dict[str, NewsFeed]:
        async with self.sessions() as session:
            return {row.url: row for row in await session.scalars(select(NewsFeed))}

    async def _from_source(
        self,
        source: Source,
        known: NewsFeed | None,
        now: datetime,
        gate: asyncio.Semaphore,
        report: CollectReport,
    ) -> tuple[list[Draft], dict[str, Any]]:
        """The source's drafts and what to remember about it; a failure is logged, not raised."""
        headers = {"User-Agent": USER_AGENT}
        if source.kind == "naver":
            settings = self.settings
            headers["X-Naver-Client-Id"] = settings.news_naver_client_id or ""
            headers["X-Naver-Client-Secret"] = settings.news_naver_client_secret or ""
        elif known is not None:
            headers.update(_conditional(known))
        state: dict[str, Any] = {"url": source.url, "category": source.category}
        try:
            async with gate:
                got = await fetch(self.http, source.url, self.limits, headers=headers)
            state.update(
                etag=(got.headers.get("etag") or "")[:200] or None,
                last_modified=(got.headers.get("last-modified") or "")[:100] or None,
                succeeded_at=now,
            )
            if got.status == 304:
                return [], state
            if source.kind == "naver":
                drafts = parse_naver(got.body, source.category, now)
            else:
                drafts = parse_feed(got.body, source.category, now, base=got.url)
        except (FetchError, FeedError) as exc:
            code = exc.code if isinstance(exc, FetchError) else "not_a_feed"
            log.warning("news_source_failed", url=_shown(source), code=code, error=str(exc))
            report.failed.append(f"{_shown(source)}: {code}")
            state["last_error"] = f"{code}: {exc}"[:200]
            return [], state
        return drafts[:MAX_PER_SOURCE], state

    async def _unseen(self, drafts: list[Draft]) -> list[Draft]:
        if not drafts:
            return []
        ids = [article_id(d.url) for d in drafts]
        async with self.sessions() as session:
            known = set(
                await session.scalars(select(NewsArticle.id).where(NewsArticle.id.in_(ids)))
            )
        return [d for d, key in zip(drafts, ids, strict=True) if key not in known]

    async def _enrich(self, drafts: list[Draft]) -> list[Draft]:
        """New articles get a picture (and an outlet name) from their page when the source gave
        none, for at most the configured number of pages a run, and keywords."""
        budget = self.settings.news_page_lookups_per_run
        lacking = [i for i, d in enumerate(drafts) if d.thumbnail_url is None][:budget]
        gate = asyncio.Semaphore(SOURCE_CONCURRENCY)
        looked = await asyncio.gather(*(self._from_page(drafts[i], gate) for i in lacking))
        enriched = list(drafts)
        for i, draft in zip(lacking, looked, strict=True):
            enriched[i] = draft
        words = await asyncio.to_thread(lambda: [d.keywords or keywords(d) for d in enriched])
        return [replace(d, keywords=w) for d, w in zip(enriched, words, strict=True)]

    async def _from_page(self, draft: Draft, gate: asyncio.Semaphore) -> Draft:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml"}
        try:
            async with gate:
                page = await fetch(self.http, draft.url, self.page_limits, headers=headers)
        except FetchError as exc:
            log.info("news_page_skipped", url=draft.url[:200], code=exc.code)
            return draft
        if page.content_type not in ("text/html", "application/xhtml+xml"):
            return draft
        meta = page_meta(page.body, page.url, page.charset)
        name = meta.site_name if draft.source == "naver" and meta.site_name else draft.source_name
        return replace(draft, thumbnail_url=meta.image, source_name=name)

    async def import_articles(self, drafts: Sequence[Draft]) -> int:
        """Saved articles (``eco2 data import-news``): keywords added, nothing fetched."""
        unique = _first_per_url(drafts)
        words = await asyncio.to_thread(lambda: [d.keywords or keywords(d) for d in unique])
        return await self.store(
            [replace(d, keywords=w) for d, w in zip(unique, words, strict=True)]
        )

    async def store(self, drafts: Sequence[Draft]) -> int:
        """Insert articles not stored yet (keyed by URL); returns how many were new."""
        if not drafts:
            return 0
        rows = [_row(d) for d in _first_per_url(drafts)]
        added = 0
        async with self.sessions.begin() as session:
            for start in range(0, len(rows), 500):
                stmt = insert(NewsArticle).values(rows[start : start + 500])
                stmt = stmt.on_conflict_do_nothing(index_elements=[NewsArticle.id])
                result = await session.execute(stmt.returning(NewsArticle.id))
                added += len(result.all())
        return added

    async def _prune(self, now: datetime) -> int:
        cutoff = now - timedelta(days=self.settings.news_retention_days)
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(NewsArticle)
                .where(NewsArticle.published_at < cutoff)
                .returning(NewsArticle.id)
            )
            return len(result.all())

    async def _remember(
        self, sources: list[Source], states: list[dict[str, Any]], now: datetime
    ) -> None:
        """Each source's validators and outcome; sources no longer configured are forgotten."""
        rows = [{"fetched_at": now, "last_error": None, **state} for state in states]
        async with self.sessions.begin() as session:
            await session.execute(
                delete(NewsFeed).where(NewsFeed.url.not_in([s.url for s in sources]))
            )
            for row in rows:
                stmt = insert(NewsFeed).values(row)
                changed = {k: stmt.excluded[k] for k in row if k != "url"}
                await session.execute(
                    stmt.on_conflict_do_update(index_elements=[NewsFeed.url], set_=changed)
                )

    async def collect_if_due(self) -> CollectReport | None:
        """The scheduled run: only when the last run is an interval old, and only in one
        process at a time (a Redis lease); None when it was not this process's turn."""
        if not self.sources() or not self.interval:
            return None
        async with self.sessions() as session:
            last_run = await session.scalar(select(func.max(NewsFeed.fetched_at)))
        if last_run is not None and utcnow() - last_run < timedelta(seconds=self.interval):
            return None
        redis = self.redis
        if redis is None:
            return None
        token = secrets.token_hex(8)
        if not await redis.set(LEASE_KEY, token, nx=True, ex=LEASE_SECONDS):
            return None
        try:
            return await self.collect_news()
        finally:
            if await redis.get(LEASE_KEY) == token.encode():
                await redis.delete(LEASE_KEY)


async def run_on_schedule(service: NewsService) -> None:
    """The scheduling hook: a collection every interval for as long as the process runs (the
    durable job engine can take over by calling ``collect_news`` on its own schedule)."""
    while True:
        try:
            await service.collect_if_due()
        except Exception:  # a run that broke (database down, ...) is retried next tick
            log.exception("news_collection_failed")
        await asyncio.sleep(min(TICK_SECONDS, service.interval or TICK_SECONDS))


def _naver_params(query: str) -> dict[str, str | int]:
    return {"query": query, "display": NAVER_DISPLAY, "start": 1, "sort": "date"}


def _conditional(known: NewsFeed) -> dict[str, str]:
    headers = {}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers


def _shown(source: Source) -> str:
    """A source for logs: a Naver URL without its query (it is not secret, just long)."""
    return source.url.split("?")[0] if source.kind == "naver" else source.url[:200]


def _first_per_url(drafts: Any) -> list[Draft]:
    seen: dict[str, Draft] = {}
    for draft in drafts:
        seen.setdefault(draft.url, draft)
    return list(seen.values())


def _row(draft: Draft) -> dict[str, Any]:
    return {
        "id": article_id(draft.url),
        "url": draft.url,
        "category": draft.category,
        "title": draft.title,
        "snippet": draft.snippet,
        "source": draft.source,
        "source_name": draft.source_name[:200] or host_name(draft.url),
        "source_icon_url": draft.source_icon_url,
        "thumbnail_url": draft.thumbnail_url,
        "keywords": list(draft.keywords),
        "published_at": draft.published_at,
        "collected_at": utcnow(),
    }
