from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from eco2.platform.db import Base, utcnow

SCHEMA = "info"


class NewsArticle(Base):
    """One article of the Info tab's feed. ``id`` is derived from the canonical URL, so the
    same article met again (another run, another source, an import) is the same row."""

    __tablename__ = "news_articles"
    __table_args__ = (
        Index("ix_news_articles_category_published", "category", "published_at", "id"),
        Index("ix_news_articles_published", "published_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    snippet: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # how it came: rss | naver | import
    source_name: Mapped[str] = mapped_column(String(200))
    source_icon_url: Mapped[str | None] = mapped_column(String(2048))
    thumbnail_url: Mapped[str | None] = mapped_column(String(2048))
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NewsFeed(Base):
    """What the collector knows about one configured source: conditional-GET validators (a
    feed that did not change costs one 304) and how its last fetch went."""

    __tablename__ = "news_feeds"
    __table_args__ = {"schema": SCHEMA}

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
