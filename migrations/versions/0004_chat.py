"""Chat: sessions (title, preview, running summary, follow-up context) and their messages.

Revision ID: 0004_chat
Revises: 0003_scan
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_chat"
down_revision: str | None = "0003_scan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "chat"')
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("preview", sa.String(length=200), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        schema="chat",
    )
    op.create_index(
        "ix_sessions_user_last",
        "sessions",
        ["user_id", "last_message_at", "id"],
        unique=False,
        schema="chat",
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("intent", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat.sessions.id"],
            name=op.f("fk_messages_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        schema="chat",
    )
    op.create_index(
        "ix_messages_session_created",
        "messages",
        ["session_id", "created_at", "id"],
        unique=False,
        schema="chat",
    )
    op.create_index(
        op.f("ix_chat_messages_user_id"), "messages", ["user_id"], unique=False, schema="chat"
    )


def downgrade() -> None:
    op.drop_table("messages", schema="chat")
    op.drop_table("sessions", schema="chat")
    op.execute('DROP SCHEMA IF EXISTS "chat"')
