"""Scan: every scan with its input, classification, conditions, answer, reward and timings.

Revision ID: 0003_scan
Revises: 0002_location_images
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_scan"
down_revision: str | None = "0002_location_images"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS "scan"')
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.create_table(
        "scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=False),
        sa.Column("user_input", sa.Text(), nullable=True),
        sa.Column("vision_provider", sa.String(length=16), nullable=False),
        sa.Column("answer_provider", sa.String(length=16), nullable=False),
        sa.Column("major_category", sa.String(length=32), nullable=True),
        sa.Column("middle_category", sa.String(length=32), nullable=True),
        sa.Column("minor_category", sa.String(length=64), nullable=True),
        sa.Column("classification", jsonb, nullable=True),
        sa.Column("conditions", jsonb, nullable=True),
        sa.Column("answer", jsonb, nullable=True),
        sa.Column("reward", jsonb, nullable=True),
        sa.Column("timings", jsonb, nullable=True),
        sa.Column("error_code", sa.String(length=48), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        schema="scan",
    )
    op.create_index(
        "ix_scans_user_created", "scans", ["user_id", "created_at"], unique=False, schema="scan"
    )


def downgrade() -> None:
    op.drop_index("ix_scans_user_created", table_name="scans", schema="scan")
    op.drop_table("scans", schema="scan")
    op.execute('DROP SCHEMA IF EXISTS "scan"')
