"""The Info tab's news, the parts :class:`~eco2.domains.info.services.InfoService` composes:
where articles come from (:func:`sources`), fetching a source (:func:`from_source`) or an
article's page (:func:`from_page`) through the SSRF-safe fetch, keywords, and the statements
that store, prune and page the articles (each taking the session it runs in)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
from eco2.domains.info.schemas import NewsArticleView
from eco2.knowledge import nouns
from eco2.platform.db import utcnow
from eco2.platform.errors import InvalidInput
from eco2.platform.outbound import FetchError, Limits, fetch
from eco2.platform.pagination import Page, newest_first
from eco2.settings import Settings

log = structlog.get_logger(__name__)

LEASE_KEY = "info:news:collect"
LEASE_SECONDS = 600  # longer than any run (RUN_SECONDS) so two never overlap
RUN_SECONDS = 300
SOURCE_CONCURRENCY = 4
MAX_PER_SOURCE = 50
NAVER_DISPLAY = 30
PAGE_BYTES = 512 * 1024
PAGE_TIMEOUT_SECONDS = 5.0
KEYWORDS = 5
USER_AGENT = "Eco2NewsCollector/1.0 (+https://github.com/eco2-team)"
# Words every article has; they say nothing about this one.
_STOP_WORDS = """
기자 뉴스 사진 제공 오늘 어제 내일 이번 지난해 올해 내년 관련 대상 경우 이후 이날 정도
가운데 기사 무단 전재 재배포 금지 저작권 보도 자료 보도자료 발표 참고 설명 계획 예정 추진
진행 위해 통해 대한 이상 이하 최근 당시 현재 그동안 등 및
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


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


def sources(settings: Settings) -> list[Source]:
    """Every configured source: the feeds per category, then Naver's queries (with keys)."""
    feeds = [Source(c, url, "rss") for c, url in settings.news_feeds() if c in CATEGORIES]
    naver = [
        Source(c, f"{settings.news_naver_url}?{urlencode(_naver_params(q))}", "naver")
        for c, q in settings.naver_queries()
        if c in CATEGORIES
    ]
    return [*feeds, *naver]


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


def with_keywords(drafts: Sequence[Draft]) -> list[Draft]:
    """CPU-bound (Kiwi): run it in a thread."""
    return [d if d.keywords else replace(d, keywords=keywords(d)) for d in drafts]


def article_id(url: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, url)


def first_per_url(drafts: Iterable[Draft]) -> list[Draft]:
    seen: dict[str, Draft] = {}
    for draft in drafts:
        seen.setdefault(draft.url, draft)
    return list(seen.values())


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


def expires_in(interval: int, last_run: datetime | None, now: datetime) -> int:
    """Seconds until the next scheduled collection may bring new articles (0: none due)."""
    if not interval or last_run is None:
        return 0
    return max(0, int((last_run + timedelta(seconds=interval) - now).total_seconds()))


# --- fetching ------------------------------------------------------------------------------


async def from_source(
    http: httpx.AsyncClient,
    limits: Limits,
    settings: Settings,
    source: Source,
    known: NewsFeed | None,
    now: datetime,
    report: CollectReport,
) -> tuple[list[Draft], dict[str, Any]]:
    """The source's drafts and what to remember about it; a failure is logged, not raised."""
    headers = {"User-Agent": USER_AGENT}
    if source.kind == "naver":
        headers["X-Naver-Client-Id"] = settings.news_naver_client_id or ""
        headers["X-Naver-Client-Secret"] = settings.news_naver_client_secret or ""
    elif known is not None:
        headers.update(_conditional(known))
    state: dict[str, Any] = {"url": source.url, "category": source.category}
    try:
        got = await fetch(http, source.url, limits, headers=headers)
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


async def from_page(http: httpx.AsyncClient, limits: Limits, draft: Draft) -> Draft:
    """The draft with the picture (and, for Naver's, the outlet name) its page advertises."""
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml"}
    try:
        page = await fetch(http, draft.url, limits, headers=headers)
    except FetchError as exc:
        log.info("news_page_skipped", url=draft.url[:200], code=exc.code)
        return draft
    if page.content_type not in ("text/html", "application/xhtml+xml"):
        return draft
    meta = page_meta(page.body, page.url, page.charset)
    name = meta.site_name if draft.source == "naver" and meta.site_name else draft.source_name
    return replace(draft, thumbnail_url=meta.image, source_name=name)


async def gathered(jobs: Sequence[Any], concurrency: int = SOURCE_CONCURRENCY) -> list[Any]:
    """Await ``jobs`` (coroutines) with at most ``concurrency`` running at once, in order."""
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


# --- statements ----------------------------------------------------------------------------


async def page_of(
    session: AsyncSession, category: Category | None, limit: int, cursor: str | None
) -> tuple[Page[NewsArticle], int]:
    """One page of articles, newest first, and how many the category holds."""
    query = select(NewsArticle)
    counted = select(func.count()).select_from(NewsArticle)
    if category is not None:
        query = query.where(NewsArticle.category == category)
        counted = counted.where(NewsArticle.category == category)
    page = await newest_first(
        session, query, NewsArticle.published_at, NewsArticle.id, limit=limit, cursor=cursor
    )
    return page, await session.scalar(counted) or 0


async def last_run(session: AsyncSession) -> datetime | None:
    moment: datetime | None = await session.scalar(select(func.max(NewsFeed.fetched_at)))
    return moment


async def known_feeds(session: AsyncSession) -> dict[str, NewsFeed]:
    return {row.url: row for row in await session.scalars(select(NewsFeed))}


async def unseen(session: AsyncSession, drafts: list[Draft]) -> list[Draft]:
    if not drafts:
        return []
    ids = [article_id(d.url) for d in drafts]
    known = set(await session.scalars(select(NewsArticle.id).where(NewsArticle.id.in_(ids))))
    return [d for d, key in zip(drafts, ids, strict=True) if key not in known]


async def store(session: AsyncSession, drafts: Sequence[Draft]) -> int:
    """Insert articles not stored yet (keyed by URL); returns how many were new."""
    rows = [_row(d) for d in first_per_url(drafts)]
    added = 0
    for start in range(0, len(rows), 500):
        stmt = insert(NewsArticle).values(rows[start : start + 500])
        stmt = stmt.on_conflict_do_nothing(index_elements=[NewsArticle.id])
        added += len((await session.execute(stmt.returning(NewsArticle.id))).all())
    return added


async def prune(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(
        delete(NewsArticle).where(NewsArticle.published_at < cutoff).returning(NewsArticle.id)
    )
    return len(result.all())


async def remember(
    session: AsyncSession, configured: list[Source], states: list[dict[str, Any]], now: datetime
) -> None:
    """Each source's validators and outcome; sources no longer configured are forgotten."""
    await session.execute(delete(NewsFeed).where(NewsFeed.url.not_in([s.url for s in configured])))
    for state in states:
        row = {"fetched_at": now, "last_error": None, **state}
        stmt = insert(NewsFeed).values(row)
        changed = {k: stmt.excluded[k] for k in row if k != "url"}
        await session.execute(
            stmt.on_conflict_do_update(index_elements=[NewsFeed.url], set_=changed)
        )


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
