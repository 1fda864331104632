"""Location: sites with an earthdistance (cube) GiST index and pg_trgm search indexes.

Images keep no tables (upload sessions live in Redis, bytes in S3 or the data dir).

``earth`` is a stored generated column (``ll_to_earth(latitude, longitude)``), so queries
compare precomputed points instead of calling the SQL function per row.

``cube`` and ``earthdistance`` are created in ``public``: earthdistance's functions name the
``cube``/``earth`` types unqualified, so both must sit on every session's search_path.

Revision ID: 0002_location_images
Revises: 0001_identity
Create Date: 2026-11-26 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_location_images"
down_revision: str | None = "0001_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "location"
EXTENSIONS = ("cube", "earthdistance", "pg_trgm")


class Earth(sa.types.UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "public.earth"


def upgrade() -> None:
    for extension in EXTENSIONS:
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA public")
    op.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
    op.create_table(
        "sites",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("merged_keys", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("road_address", sa.String(length=300), nullable=True),
        sa.Column("lot_address", sa.String(length=300), nullable=True),
        sa.Column("location_note", sa.String(length=300), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column(
            "earth",
            Earth(),
            sa.Computed("ll_to_earth(latitude, longitude)", persisted=True),
            nullable=True,
        ),
        sa.Column("store_category", sa.String(length=32), nullable=False),
        sa.Column("pickup_categories", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("collection_items", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("phones", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("introduction", sa.Text(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("homepage", sa.String(length=500), nullable=True),
        sa.Column("place_url", sa.String(length=500), nullable=True),
        sa.Column("kakao_place_id", sa.String(length=32), nullable=True),
        sa.Column("hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("source", "source_key", name=op.f("uq_sites_source_source_key")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sites_earth",
        "sites",
        ["earth"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gist",
    )
    op.create_index(
        "ix_sites_search_trgm",
        "sites",
        ["search_text"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_sites_name_trgm",
        "sites",
        ["name"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_sites_name_trgm", table_name="sites", schema=SCHEMA)
    op.drop_index("ix_sites_search_trgm", table_name="sites", schema=SCHEMA)
    op.drop_index("ix_sites_earth", table_name="sites", schema=SCHEMA)
    op.drop_table("sites", schema=SCHEMA)
    op.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}"')
    # The extensions stay: other schemas may use them, and dropping needs ownership.
