"""Info: the news feed (articles, the collector's per-source state); chat: which model answered;
location: the location note ("판교역 3번출구") becomes searchable.

Revision ID: 0006_news_and_chat_models
Revises: 0005_refresh_successor
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_news_and_chat_models"
down_revision: str | None = "0005_refresh_successor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "info"')
    op.create_table(
        "news_articles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("source_icon_url", sa.String(length=2048), nullable=True),
        sa.Column("thumbnail_url", sa.String(length=2048), nullable=True),
        sa.Column("keywords", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_articles")),
        sa.UniqueConstraint("url", name=op.f("uq_news_articles_url")),
        schema="info",
    )
    op.create_index(
        "ix_news_articles_category_published",
        "news_articles",
        ["category", "published_at", "id"],
        unique=False,
        schema="info",
    )
    op.create_index(
        "ix_news_articles_published",
        "news_articles",
        ["published_at", "id"],
        unique=False,
        schema="info",
    )
    op.create_table(
        "news_feeds",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_news_feeds")),
        schema="info",
    )
    op.add_column(
        "messages", sa.Column("model", sa.String(length=64), nullable=True), schema="chat"
    )
    # As datasets.SiteRecord.search_text now builds it (the next import rewrites the same).
    op.execute(
        "UPDATE location.sites SET search_text = search_text || "
        "lower(regexp_replace(location_note, '\\s+', '', 'g')) WHERE location_note IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("messages", "model", schema="chat")
    op.drop_table("news_feeds", schema="info")
    op.drop_table("news_articles", schema="info")
    op.execute('DROP SCHEMA IF EXISTS "info"')
