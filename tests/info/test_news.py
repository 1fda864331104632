"""The Info tab's news (contract §7): collected from feeds and Naver served by a fake news web
on 127.0.0.1, stored, read page by page; imports; the schedule; failures that stay soft."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from eco2.cli import main
from eco2.domains.info.feeds import Draft, parse_feed, parse_saved, web_url
from eco2.domains.info.news import keywords
from eco2.domains.info.services import InfoService
from eco2.knowledge import load_knowledge
from eco2.platform.db import async_url, session_factory
from eco2.settings import Settings, get_settings
from tests.conftest import data_path
from tests.fakes.live import client_for, closed_port_url
from tests.fakes.news import NAVER_ID, NAVER_SECRET, FakeNews, fake_news

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 1, 13, tzinfo=UTC)


@pytest.fixture(scope="module")
def web() -> Iterator[FakeNews]:
    with fake_news() as fake:
        yield fake


def news_settings(base: Settings, web: FakeNews, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "news_feeds_environment": [web.feed_url("environment.xml")],
        "news_feeds_energy": [],
        "news_feeds_ai": [web.feed_url("ai.atom")],
        "news_fetch_private_hosts": True,  # the fake web is on 127.0.0.1
        "news_fetch_timeout_seconds": 5.0,
        "news_retention_days": 3650,  # the saved feeds are from January 2026
    }
    return base.model_copy(update={**values, **overrides})


@dataclass
class Parts:
    """What an InfoService is built from, on the test's loop."""

    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    redis: Redis

    def service(self, settings: Settings, *, redis: bool = True) -> InfoService:
        return InfoService(
            load_knowledge(), settings, self.sessions, self.http, self.redis if redis else None
        )


@pytest.fixture
async def parts(settings: Settings) -> AsyncIterator[Parts]:
    engine = create_async_engine(async_url(settings.database_url or ""))
    redis = Redis.from_url(settings.redis_url or "")
    async with httpx.AsyncClient() as http:
        yield Parts(session_factory(engine), http, redis)
    await redis.aclose()
    await engine.dispose()


@pytest.fixture
def service(parts: Parts, settings: Settings) -> InfoService:
    return parts.service(settings)


@pytest.fixture
def settings(base_settings: Settings, web: FakeNews) -> Settings:
    return news_settings(base_settings, web)


async def test_collects_feeds_into_the_contract_shape(
    service: InfoService, client: Client, web: FakeNews
) -> None:
    report = await service.collect_news()
    assert report.failed == []
    # 5 + 3 entries: the javascript: link is dropped, article 1 is in both feeds (kept once).
    assert (report.seen, report.added) == (6, 6)
    response = await client.get("/api/v1/info/news", params={"limit": 10})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"articles", "next_cursor", "has_more", "meta"}
    articles = body["articles"]
    assert [a["published_at"] for a in articles] == sorted(
        (a["published_at"] for a in articles), reverse=True
    )
    by_url = {a["url"]: a for a in articles}
    assert articles[0]["url"] == f"{web.url}/articles/10"  # 07:00 UTC, the newest
    first = by_url[f"{web.url}/articles/1"]
    assert first["title"] == "투명 페트병 별도 배출, 공동주택에서 단독주택까지 넓힌다"
    assert first["url"] == f"{web.url}/articles/1"  # tracking parameters gone
    assert first["category"] == "environment"  # the first source that had it
    assert first["source"] == "rss"
    assert first["source_name"] == "기후에너지환경부 보도자료"
    assert first["source_icon_url"] == f"{web.url}/static/icon.png"
    assert first["thumbnail_url"] == f"{web.url}/images/pet.jpg"  # media:thumbnail, no page
    assert first["snippet"].startswith("투명 페트병을 라벨을 떼고 찌그러뜨려")
    assert "<" not in first["snippet"]
    assert {"투명", "페트병"} & set(first["keywords"])
    # A picture from the description's <img> (resolved against the article), from the page's
    # og:image when the feed had none, none when neither exists.
    assert by_url[f"{web.url}/articles/2"]["thumbnail_url"] == f"{web.url}/images/plastic.png"
    assert by_url[f"{web.url}/articles/4"]["thumbnail_url"] == f"{web.url}/images/appliances.jpg"
    assert by_url[f"{web.url}/articles/3"]["thumbnail_url"] is None
    assert by_url[f"{web.url}/articles/10"]["thumbnail_url"] == f"{web.url}/images/datacenter.jpg"
    assert by_url[f"{web.url}/articles/10"]["source_name"] == "AI 소식"
    assert web.hits["page:1"] == 0  # pages are read only for articles without a picture
    assert body["meta"]["total_cached"] == 6
    assert body["has_more"] is False
    assert body["next_cursor"] is None


async def test_a_second_run_adds_nothing_and_asks_with_the_etag(
    service: InfoService, web: FakeNews
) -> None:
    first = await service.collect_news()
    before = web.hits["304:environment.xml"]
    pages = sum(n for key, n in web.hits.items() if key.startswith("page:"))
    second = await service.collect_news()
    assert first.added == 6
    assert second.added == 0
    assert web.hits["304:environment.xml"] == before + 1  # unchanged feed: one 304
    assert sum(n for key, n in web.hits.items() if key.startswith("page:")) == pages


async def test_pages_by_cursor_and_category(service: InfoService, client: Client) -> None:
    await service.collect_news()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/info/news", params=params)).json()
        seen += [a["id"] for a in page["articles"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6
    ai = (await client.get("/api/v1/info/news", params={"category": "ai"})).json()
    assert {a["category"] for a in ai["articles"]} == {"ai"}
    assert ai["meta"]["total_cached"] == 2
    energy = (await client.get("/api/v1/info/news", params={"category": "energy"})).json()
    assert energy == {
        "articles": [],
        "next_cursor": None,
        "has_more": False,
        "meta": {"total_cached": 0, "cache_expires_in": 0},
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "sports"}, "category"),
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: Client, params: dict[str, object], field: str
) -> None:
    response = await client.get("/api/v1/info/news", params=params)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["field"] == field


async def test_the_feed_is_public(settings: Settings) -> None:
    async with client_for(settings) as anonymous:
        assert (await anonymous.get("/api/v1/info/news")).status_code == 200


async def test_unreachable_or_broken_sources_fail_soft(
    base_settings: Settings, web: FakeNews, parts: Parts
) -> None:
    with closed_port_url() as closed:
        broken = news_settings(
            base_settings,
            web,
            news_feeds_environment=[f"{closed}/rss.xml", f"{web.url}/page.html"],
            news_feeds_energy=["http://no-such-host.invalid/rss.xml"],
            news_feeds_ai=[web.feed_url("ai.atom")],
        )
        report = await parts.service(broken).collect_news()
    codes = sorted(failure.rsplit(": ", 1)[1] for failure in report.failed)
    assert codes == ["connection_failed", "dns_failed", "not_a_feed"]
    assert report.added == 3  # the working feed still counts
    async with client_for(broken) as client:
        body = (await client.get("/api/v1/info/news", params={"category": "environment"})).json()
    assert body["articles"] == []
    assert body["meta"]["total_cached"] == 0


async def test_naver_news_search(base_settings: Settings, web: FakeNews, parts: Parts) -> None:
    naver = news_settings(
        base_settings,
        web,
        news_feeds_environment=[],
        news_feeds_ai=[],
        news_naver_client_id=NAVER_ID,
        news_naver_client_secret=NAVER_SECRET,
        news_naver_url=f"{web.url}/v1/search/news.json",
        news_naver_queries=["environment=분리배출"],
    )
    report = await parts.service(naver).collect_news()
    assert report.failed == []
    assert report.added == 2
    assert web.naver_queries[-1] == {
        "query": "분리배출",
        "display": "30",
        "start": "1",
        "sort": "date",
    }
    async with client_for(naver) as client:
        articles = (await client.get("/api/v1/info/news")).json()["articles"]
    first = articles[0]
    assert first["source"] == "naver"
    assert first["title"] == "분리배출 정책 설명회 열려"  # <b> gone
    assert first["snippet"] == '올해 달라지는 분리배출 제도를 설명하는 자리가 마련됐다. "쉽게" 안내'
    assert first["url"] == f"{web.url}/articles/naver-1"  # the publisher's link
    assert first["source_name"] == "환경일보"  # the page's og:site_name
    assert first["thumbnail_url"] == f"{web.url}/images/naver-1.jpg"
    assert first["published_at"].startswith("2026-01-12T02:00:00")
    second = articles[1]
    assert second["url"] == f"{web.url}/articles/naver-2"  # no originallink: Naver's link
    assert second["source_name"] == "에너지신문"
    # Wrong credentials: Naver's 401, logged and skipped.
    wrong = naver.model_copy(update={"news_naver_client_secret": "nope"})
    refused = await parts.service(wrong).collect_news()
    assert [f.rsplit(": ", 1)[1] for f in refused.failed] == ["http_status"]


async def test_old_articles_are_pruned(
    service: InfoService, parts: Parts, settings: Settings
) -> None:
    old = Draft(
        url="https://example.org/old",
        title="오래된 기사",
        snippet="",
        category="environment",
        source="import",
        source_name="예전 신문",
        published_at=datetime.now(UTC) - timedelta(days=40),
    )
    assert await service.import_news([old]) == 1
    short = parts.service(settings.model_copy(update={"news_retention_days": 30}))
    report = await short.collect_news()
    assert report.pruned == 7  # the old one and the saved feeds' January 2026 articles


async def test_the_schedule_collects_once_across_processes(
    parts: Parts, settings: Settings
) -> None:
    every = settings.model_copy(update={"news_collect_interval_seconds": 600})
    scheduled, other = parts.service(every), parts.service(every)
    first, second = await asyncio.gather(scheduled.collect_if_due(), other.collect_if_due())
    assert [r is not None for r in (first, second)].count(True) == 1  # one took the lease
    assert await scheduled.collect_if_due() is None  # not due again for 10 minutes
    page = await scheduled.news(None, 10, None)
    assert 590 <= page.meta.cache_expires_in <= 600


async def test_the_app_collects_on_its_schedule(settings: Settings) -> None:
    scheduled = settings.model_copy(update={"news_collect_interval_seconds": 600})
    async with client_for(scheduled) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = (await client.get("/api/v1/info/news")).json()
            if body["articles"]:
                break
            await asyncio.sleep(0.2)
    assert len(body["articles"]) == 6


def test_import_and_collect_commands(
    settings: Settings,  # migrated, and wiped after the test
    web: FakeNews,
    servers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = tmp_path / "environment.xml"
    saved.write_text(
        data_path("news/environment.xml").read_text().replace("{base}", "https://news.example.org")
    )
    listing = tmp_path / "articles.json"
    listing.write_text(
        json.dumps(
            {
                "articles": [
                    {
                        "title": "AI 선별 로봇 도입",
                        "url": "https://ai.example.org/robot",
                        "category": "ai",
                        "published_at": "2026-01-05T09:00:00+09:00",
                        "source_name": "AI 소식",
                    }
                ]
            },
            ensure_ascii=False,
        )
    )
    for key, value in {
        "ECO2_DATABASE_URL": servers["database_url"],
        "ECO2_REDIS_URL": servers["redis_url"],
        "ECO2_DATA_DIR": str(tmp_path),
        "ECO2_NEWS_FEEDS_ENVIRONMENT": web.feed_url("environment.xml"),
        "ECO2_NEWS_FEEDS_ENERGY": f"{web.url}/page.html",
        "ECO2_NEWS_FEEDS_AI": "",
        "ECO2_NEWS_FETCH_PRIVATE_HOSTS": "true",
        "ECO2_NEWS_RETENTION_DAYS": "3650",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        rss = runner.invoke(main, ["data", "import-news", str(saved), "--category", "environment"])
        again = runner.invoke(
            main, ["data", "import-news", str(saved), "--category", "environment"]
        )
        listed = runner.invoke(main, ["data", "import-news", str(listing)])
        no_category = runner.invoke(main, ["data", "import-news", str(saved)])
        collected = runner.invoke(main, ["data", "collect-news"])
    finally:
        get_settings.cache_clear()
    assert rss.exit_code == 0, rss.output
    assert "4건, 새로 추가 4건" in rss.output
    assert "새로 추가 0건" in again.output
    assert "1건, 새로 추가 1건" in listed.output
    assert no_category.exit_code == 1
    assert "--category" in no_category.output
    assert collected.exit_code == 0, collected.output
    assert "출처 2곳 (실패 1곳), 기사 4건 중 새로 추가 4건" in collected.output
    assert "page.html: not_a_feed" in collected.output


async def test_imported_articles_are_served(service: InfoService, client: Client) -> None:
    body = (
        data_path("news/environment.xml").read_text().replace("{base}", "https://news.example.org")
    )
    drafts = parse_saved(body.encode(), "environment", NOW)
    assert await service.import_news(drafts) == 4
    articles = (await client.get("/api/v1/info/news")).json()["articles"]
    assert [a["source"] for a in articles] == ["import"] * 4
    assert all(a["keywords"] for a in articles)


# --- parsing -------------------------------------------------------------------------------


def test_keywords_keep_compounds_and_drop_news_words() -> None:
    draft = Draft(
        url="https://example.org/a",
        title="폐플라스틱 재활용 확대…재생원료 사용 목표 상향",
        snippet="환경부는 폐플라스틱 재활용을 늘리기 위해 재생원료 목표를 높인다고 발표했다.",
        category="environment",
        source="rss",
        source_name="환경부",
        published_at=NOW,
    )
    words = keywords(draft)
    assert words[:3] == ("폐플라스틱", "재활용", "재생원료")
    assert "발표" not in words
    assert "환경부" not in words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.ORG/a?utm_source=x&id=3#top", "https://example.org/a?id=3"),
        ("http://example.org", "http://example.org/"),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("/relative", None),
        ("ftp://example.org/a", None),
        ("https://user:pw@example.org/a", "https://example.org/a"),
    ],
)
def test_web_urls(raw: str, expected: str | None) -> None:
    assert web_url(raw) == expected


def test_future_dates_are_now_and_missing_titles_are_skipped() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>future</title><link>https://e.org/1</link>
      <pubDate>Wed, 01 Jan 2031 00:00:00 GMT</pubDate></item>
    <item><title></title><link>https://e.org/2</link></item>
    </channel></rss>"""
    (only,) = parse_feed(rss, "energy", NOW)
    assert only.published_at == NOW


def test_saved_json_must_name_its_fields() -> None:
    from eco2.domains.info.feeds import FeedError

    with pytest.raises(FeedError, match="category"):
        parse_saved(b'[{"title": "x", "url": "https://e.org/"}]', None, NOW)
    with pytest.raises(FeedError, match="url"):
        parse_saved(b'[{"title": "x", "url": "javascript:1", "category": "ai"}]', None, NOW)
    row = {"title": "x", "url": "https://e.org/", "category": "ai", "published_at": "어제"}
    with pytest.raises(FeedError, match="ISO 8601"):
        parse_saved(json.dumps([row]).encode(), None, NOW)


def test_pages_in_older_korean_encodings_and_broken_markup() -> None:
    from eco2.domains.info.feeds import page_meta, plain_text

    head = '<head><meta property="og:site_name" content="환경일보"><meta property="og:image" '
    page = (head + 'content="/a.jpg"></head>').encode("cp949")
    assert page_meta(page, "https://e.org/n/1").site_name == "환경일보"  # no charset declared
    meta = page_meta(page, "https://e.org/n/1", "euc-kr")
    assert (meta.site_name, meta.image) == ("환경일보", "https://e.org/a.jpg")
    assert page_meta(b"<html><![if x]><!DOCTYPE <<<", "https://e.org/").image is None
    assert plain_text("<p>앞</p><![if !supportLists]>뒤 &amp; 끝", 200).startswith("앞")
