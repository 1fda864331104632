"""A fake news web on 127.0.0.1: RSS/Atom feeds (the saved ones in tests/data/news, with
ETag/If-None-Match), article pages with ``og:`` tags, pictures, and the Naver News Search API
(``GET /v1/search/news.json``, checked ``X-Naver-Client-Id``/``-Secret``, Naver's JSON).

Also runnable for local development and the e2e run of the web clients:
``python -m tests.fakes.news --port 8765`` serves the same feeds at
``http://127.0.0.1:8765/feeds/environment.xml`` and ``/feeds/ai.atom``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream

from tests.conftest import data_path
from tests.fakes.live import serve_fake

NAVER_ID, NAVER_SECRET = "naver-test-id", "naver-test-secret"
# A 1x1 PNG: what every picture of the fake web is.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PAGES = {
    # article -> (og:image, og:site_name); None: the page has no such tag
    "1": ("/images/pet-page.jpg", "기후에너지환경부"),
    "2": ("https://cdn.example.org/plastic.jpg", None),
    "3": (None, None),
    "4": ("/images/appliances.jpg", "에코 소식"),
    "11": ("/images/sorting-robot.jpg", "AI 소식"),
    "naver-1": ("/images/naver-1.jpg", "환경일보"),
    "naver-2": (None, "에너지신문"),
}


@dataclass
class FakeNews:
    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    naver_queries: list[dict[str, str]] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # paths that answer 500
    recent: bool = False  # dates moved so the newest entry is an hour old (development)

    def feed_url(self, name: str) -> str:
        return f"{self.url}/feeds/{name}"


def feed_body(name: str, base: str, recent: bool = False) -> bytes:
    text = data_path(f"news/{name}").read_text().replace("{base}", base)
    return (_recent(text) if recent else text).encode()


_RFC822 = re.compile(r"<pubDate>(.*?)</pubDate>")
_ISO = re.compile(r"<updated>(.*?)</updated>")


def _recent(text: str) -> str:
    """The feed with every date moved by one offset, so its newest entry is an hour old."""
    moments = [parsedate_to_datetime(m) for m in _RFC822.findall(text)]
    moments += [datetime.fromisoformat(m.replace("Z", "+00:00")) for m in _ISO.findall(text)]
    shift = datetime.now(UTC) - timedelta(hours=1) - max(moments)

    def moved_rfc822(found: re.Match[str]) -> str:
        return f"<pubDate>{format_datetime(parsedate_to_datetime(found[1]) + shift)}</pubDate>"

    def moved_iso(found: re.Match[str]) -> str:
        moment = datetime.fromisoformat(found[1].replace("Z", "+00:00")) + shift
        return f"<updated>{moment.isoformat(timespec='seconds')}</updated>"

    return _ISO.sub(moved_iso, _RFC822.sub(moved_rfc822, text))


def _page(article: str) -> str:
    image, site = PAGES.get(article, (None, None))
    tags = [f'<meta property="og:title" content="기사 {article}">']
    if image:
        tags.append(f'<meta property="og:image" content="{image}">')
    if site:
        tags.append(f'<meta property="og:site_name" content="{site}">')
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{''.join(tags)}</head>"
        f"<body><h1>기사 {article}</h1><meta property='og:image' content='/late.jpg'></body></html>"
    )


def _naver_items(query: str, base: str) -> list[dict[str, str]]:
    return [
        {
            "title": f"<b>{query}</b> 정책 설명회 열려",
            "originallink": f"{base}/articles/naver-1",
            "link": "https://n.news.naver.com/mnews/article/001/0000000001",
            "description": f"올해 달라지는 <b>{query}</b> 제도를 설명하는 자리가 마련됐다. "
            "&quot;쉽게&quot; 안내",
            "pubDate": "Mon, 12 Jan 2026 11:00:00 +0900",
        },
        {
            "title": "태양광 설비 보급 확대",
            "originallink": "",
            "link": f"{base}/articles/naver-2",
            "description": "주택 태양광 설비 보급 사업 신청이 시작됐다.",
            "pubDate": "Sun, 11 Jan 2026 08:00:00 +0900",
        },
    ]


def app_for(fake: FakeNews) -> Litestar:
    @get("/feeds/{name:str}")
    async def feed(name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        fake.hits[f"feed:{name}"] += 1
        if f"/feeds/{name}" in fake.broken:
            return Response(b"broken", status_code=500)
        body = feed_body(name, fake.url, fake.recent)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            fake.hits[f"304:{name}"] += 1
            return Response(b"", status_code=304, headers={"ETag": etag})
        kind = "application/atom+xml" if name.endswith(".atom") else "application/rss+xml"
        return Response(body, media_type=kind, headers={"ETag": etag})

    @get("/articles/{article:str}")
    async def article(article: FromPath[str]) -> Response[str]:
        fake.hits[f"page:{article}"] += 1
        return Response(_page(article), media_type="text/html; charset=utf-8")

    @get(["/images/{name:str}", "/static/{name:str}"])
    async def picture(name: FromPath[str]) -> Response[bytes]:
        return Response(PIXEL, media_type="image/png")

    @get("/v1/search/news.json")
    async def naver(request: Request[Any, Any, Any]) -> Response[Any]:
        headers = request.headers
        if (headers.get("x-naver-client-id"), headers.get("x-naver-client-secret")) != (
            NAVER_ID,
            NAVER_SECRET,
        ):
            body = {"errorMessage": "NID AUTH Result Invalid (28) : Authentication failed.",
                    "errorCode": "024"}  # fmt: skip
            return Response(body, status_code=401)
        query = dict(request.query_params)
        fake.naver_queries.append(query)
        items = _naver_items(query["query"], fake.url)
        return Response(
            {
                "lastBuildDate": "Mon, 12 Jan 2026 12:00:00 +0900",
                "total": len(items),
                "start": int(query.get("start", 1)),
                "display": len(items),
                "items": items,
            }
        )

    @get("/page.html")
    async def not_a_feed() -> Response[str]:
        return Response("<html><body>RSS 안내 페이지</body></html>", media_type="text/html")

    @get("/redirect")
    async def redirect(to: FromQuery[str]) -> Redirect:
        return Redirect(to, status_code=302)

    @get("/big")
    async def big() -> Response[bytes]:
        return Response(b"x" * 3_000_000, media_type="application/rss+xml")

    @get("/slow")
    async def slow() -> Stream:
        async def drip() -> AsyncIterator[bytes]:
            for _ in range(100):
                await asyncio.sleep(0.2)
                yield b"<"

        return Stream(drip(), media_type="application/rss+xml")

    @get("/host")
    async def host(request: Request[Any, Any, Any]) -> Response[str]:
        return Response(request.headers.get("host", ""), media_type="text/plain")

    return Litestar(
        [feed, article, picture, naver, not_a_feed, redirect, big, slow, host], debug=False
    )


def fake_news() -> contextlib.AbstractContextManager[FakeNews]:
    return serve_fake(FakeNews(), app_for)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeNews(url=f"http://127.0.0.1:{args.port}", recent=True)
    uvicorn.run(app_for(fake), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
