"""Location: the map's GiST on ``earth`` covers ``id`` and the filter columns.

A filtered map query (store category, pickup category) used to read a table row for every
place in the radius box just to reject most of them (~1,000 rows at 2 km in central Seoul
on 1M sites). With ``id``, ``store_category`` and ``pickup_categories`` in the index
(INCLUDE), the filters are checked on index tuples by an index-only KNN scan and only the
returned places are read by primary key.

The new index is built before the old one is dropped: CREATE INDEX lets map reads go on
while it builds; the DROP's exclusive lock is held only until the migration commits.

Revision ID: 0008_location_covering_index
Revises: 0007_durable_jobs
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_location_covering_index"
down_revision: str | None = "0007_durable_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "location"
COVERED = ["id", "store_category", "pickup_categories"]


def upgrade() -> None:
    op.create_index(
        "ix_sites_earth_covering",
        "sites",
        ["earth"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gist",
        postgresql_include=COVERED,
    )
    op.drop_index("ix_sites_earth", table_name="sites", schema=SCHEMA)


def downgrade() -> None:
    op.create_index(
        "ix_sites_earth", "sites", ["earth"], unique=False, schema=SCHEMA, postgresql_using="gist"
    )
    op.drop_index("ix_sites_earth_covering", table_name="sites", schema=SCHEMA)
