"""auth: a rotated refresh token remembers its successor (reuse within the grace gets it back).

Revision ID: 0005_refresh_successor
Revises: 0004_chat
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_refresh_successor"
down_revision: str | None = "0004_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "refresh_tokens",
        sa.Column("successor_jti", sa.String(length=64), nullable=True),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_column("refresh_tokens", "successor_jti", schema="auth")
