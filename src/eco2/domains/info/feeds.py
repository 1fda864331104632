"""News sources, parsed: RSS/Atom (feedparser), the Naver News Search API, saved JSON, and the
``og:`` tags of an article's page. Pure functions from bytes to :class:`Draft` articles."""

from __future__ import annotations

import calendar
import contextlib
import html
import json
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

Category = Literal["environment", "energy", "ai"]
CATEGORIES: tuple[Category, ...] = get_args(Category)

SNIPPET_CHARS = 200
TITLE_CHARS = 300
URL_CHARS = 2048
_SPACES = re.compile(r"\s+")
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid)$", re.IGNORECASE)


class FeedError(ValueError):
    """The bytes are not a feed (or not the JSON an import expects)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An article as a source gave it, before it is stored."""

    url: str
    title: str
    snippet: str
    category: Category
    source: str  # how it came: rss | naver | import
    source_name: str
    published_at: datetime
    thumbnail_url: str | None = None
    source_icon_url: str | None = None
    keywords: tuple[str, ...] = ()


# --- small text helpers ---------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.images.append(src)
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")


def _read_html(markup: str) -> _Text:
    """Text and pictures of untrusted HTML; what was read before a parse error is kept."""
    parser = _Text()
    with contextlib.suppress(AssertionError, ValueError):
        parser.feed(markup)
        parser.close()
    return parser


def plain_text(markup: str, limit: int) -> str:
    """Text of an HTML fragment on one line, cut at a word boundary to ``limit`` characters."""
    text = _SPACES.sub(" ", html.unescape("".join(_read_html(markup).parts))).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.·…") + "…"


def web_url(raw: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL the client may open or load, canonical for deduplication
    (lower-case scheme and host, no fragment, no tracking parameters); None for anything else
    (``javascript:``, ``data:``, relative without a base, too long)."""
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    if base and raw.startswith("//"):
        raw = f"{urlsplit(base).scheme}:{raw}"
    elif base and not urlsplit(raw).scheme:
        parts = urlsplit(base)
        path = raw if raw.startswith("/") else parts.path.rsplit("/", 1)[0] + "/" + raw
        raw = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, True) if not _TRACKING.match(k)])
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))
    return url if len(url) <= URL_CHARS else None


def _moment(parsed: time.struct_time | None, now: datetime) -> datetime:
    """A feed's date (UTC struct) as an aware datetime; missing or in the future: now."""
    if parsed is None:
        return now
    moment = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return min(moment, now)


def _title(raw: str) -> str:
    return plain_text(raw, TITLE_CHARS)


# --- RSS / Atom ---------------------------------------------------------------------------


def _entry_image(entry: Any, base: str) -> str | None:
    """The entry's picture: media:thumbnail, media:content, an image enclosure, or the first
    <img> of its description."""
    candidates: list[str | None] = [t.get("url") for t in entry.get("media_thumbnail", [])]
    candidates += [
        m.get("url")
        for m in entry.get("media_content", [])
        if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")
    ]
    candidates += [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    for content in (
        entry.get("summary", ""),
        *(c.get("value", "") for c in entry.get("content", [])),
    ):
        candidates += _read_html(content).images[:1]
    for candidate in candidates:
        url = web_url(candidate, base)
        if url:
            return url
    return None


def parse_feed(
    body: bytes, category: Category, now: datetime, *, source: str = "rss", base: str = ""
) -> list[Draft]:
    """The entries of an RSS or Atom document, newest as the feed lists them."""
    parsed = feedparser.parse(body)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise FeedError(f"not a feed: {parsed.get('bozo_exception', 'no entries')!r}"[:200])
    feed = parsed.feed
    name = _title(feed.get("title", "")) or urlsplit(base or feed.get("link", "")).hostname or ""
    icon = web_url(feed.get("image", {}).get("href") or feed.get("icon") or feed.get("logo"), base)
    drafts = []
    for entry in parsed.entries:
        url = web_url(entry.get("link"), base)
        title = _title(entry.get("title", ""))
        if not url or not title:
            continue
        contents: list[dict[str, str]] = entry.get("content", [])
        summary = entry.get("summary") or (contents[0].get("value", "") if contents else "")
        drafts.append(
            Draft(
                url=url,
                title=title,
                snippet=plain_text(summary, SNIPPET_CHARS),
                category=category,
                source=source,
                source_name=_title(entry.get("source", {}).get("title", "")) or name,
                published_at=_moment(
                    entry.get("published_parsed") or entry.get("updated_parsed"), now
                ),
                thumbnail_url=_entry_image(entry, url),
                source_icon_url=icon,
            )
        )
    return drafts


# --- Naver News Search API ------------------------------------------------------------------


def parse_naver(body: bytes, category: Category, now: datetime) -> list[Draft]:
    """``GET /v1/search/news.json``: items {title, originallink, link, description, pubDate};
    title and description carry ``<b>`` around the query words and HTML entities."""
    try:
        items = json.loads(body)["items"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FeedError(f"not a Naver news answer: {exc!r}") from exc
    drafts = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = web_url(item.get("originallink")) or web_url(item.get("link"))
        title = _title(str(item.get("title", "")))
        if not url or not title:
            continue
        drafts.append(
            Draft(
                url=url,
                title=title,
                snippet=plain_text(str(item.get("description", "")), SNIPPET_CHARS),
                category=category,
                source="naver",
                source_name=host_name(url),
                published_at=_rfc822(item.get("pubDate"), now),
            )
        )
    return drafts


def _rfc822(raw: object, now: datetime) -> datetime:
    try:
        moment = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return now
    return min(moment if moment.tzinfo else moment.replace(tzinfo=UTC), now)


def host_name(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.").removeprefix("m.")


# --- saved files (eco2 data import-news) ----------------------------------------------------


def parse_saved(body: bytes, category: Category | None, now: datetime) -> list[Draft]:
    """A saved RSS/Atom file (every entry in ``category``) or JSON: a list of articles or an
    object with ``articles`` (this API's own answer), each with its own ``category`` unless
    ``category`` is given."""
    if body.lstrip()[:1] in (b"{", b"["):
        return _parse_json(body, category, now)
    if category is None:
        raise FeedError("a saved RSS/Atom feed needs a category (--category)")
    return [replace(d, source="import") for d in parse_feed(body, category, now)]


def _parse_json(body: bytes, category: Category | None, now: datetime) -> list[Draft]:
    try:
        raw = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"not JSON: {exc}") from exc
    rows = raw.get("articles") if isinstance(raw, dict) else raw
    if not isinstance(rows, list):
        raise FeedError("JSON must be a list of articles or an object with 'articles'")
    drafts = []
    for n, row in enumerate(rows):
        if not isinstance(row, dict):
            raise FeedError(f"article {n} is not an object")
        chosen = category or row.get("category")
        if chosen not in CATEGORIES:
            raise FeedError(f"article {n}: category must be one of {', '.join(CATEGORIES)}")
        url, title = web_url(row.get("url")), _title(str(row.get("title") or ""))
        if not url or not title:
            raise FeedError(f"article {n}: an http(s) url and a title are required")
        drafts.append(
            Draft(
                url=url,
                title=title,
                snippet=plain_text(str(row.get("snippet") or ""), SNIPPET_CHARS),
                category=chosen,
                source=str(row.get("source") or "import")[:16],
                source_name=_title(str(row.get("source_name") or "")) or host_name(url),
                published_at=_iso(row.get("published_at"), n, now),
                thumbnail_url=web_url(row.get("thumbnail_url")),
                source_icon_url=web_url(row.get("source_icon_url")),
                keywords=tuple(str(k)[:40] for k in row.get("keywords") or [] if k)[:5],
            )
        )
    return drafts


def _iso(raw: object, n: int, now: datetime) -> datetime:
    if raw is None:
        return now
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise FeedError(f"article {n}: published_at is not an ISO 8601 time") from exc
    return min(moment if moment.tzinfo else moment.replace(tzinfo=UTC), now)


# --- an article's page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageMeta:
    image: str | None = None
    site_name: str | None = None


class _Meta(HTMLParser):
    """Reads ``<meta property="og:...">`` until ``</head>`` (or the body starts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.done = True
        if tag != "meta" or self.done:
            return
        values = dict(attrs)
        key = (values.get("property") or values.get("name") or "").lower()
        if key in ("og:image", "og:image:url", "og:site_name", "twitter:image"):
            self.found.setdefault(key, values.get("content") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True


def _decode(body: bytes, charset: str | None) -> str:
    """A page's text: its declared charset, else UTF-8, else CP949 (older Korean sites)."""
    for encoding in (charset, "utf-8", "cp949"):
        if encoding:
            with contextlib.suppress(LookupError, UnicodeDecodeError):
                return body.decode(encoding)
    return body.decode("utf-8", errors="replace")


def page_meta(body: bytes, url: str, charset: str | None = None) -> PageMeta:
    """The picture and site name a page advertises for link previews."""
    parser = _Meta()
    text = _decode(body, charset)
    with contextlib.suppress(AssertionError, ValueError):  # untrusted markup: keep what was read
        for start in range(0, len(text), 8192):
            parser.feed(text[start : start + 8192])
            if parser.done:
                break
    found = parser.found
    image = found.get("og:image") or found.get("og:image:url") or found.get("twitter:image")
    site = _title(found.get("og:site_name", "")) or None
    return PageMeta(web_url(image, url), site)
