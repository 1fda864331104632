"""Durable background work: owed scan rewards, account erasures, the revocation outbox.

Revision ID: 0007_durable_jobs
Revises: 0006_news_and_chat_models
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_durable_jobs"
down_revision: str | None = "0006_news_and_chat_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "scans",
        sa.Column("reward_due", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="scan",
    )
    op.create_index(
        "ix_scans_reward_due",
        "scans",
        ["completed_at"],
        unique=False,
        schema="scan",
        postgresql_where="reward_due",
    )
    op.create_table(
        "erasures",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("erased", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_erasures")),
        schema="users",
    )
    op.create_index(
        op.f("ix_users_erasures_state"), "erasures", ["state"], unique=False, schema="users"
    )
    op.create_table(
        "revocation_outbox",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_revocation_outbox")),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_table("revocation_outbox", schema="auth")
    op.drop_index(op.f("ix_users_erasures_state"), table_name="erasures", schema="users")
    op.drop_table("erasures", schema="users")
    op.drop_index("ix_scans_reward_due", table_name="scans", schema="scan")
    op.drop_column("scans", "reward_due", schema="scan")
