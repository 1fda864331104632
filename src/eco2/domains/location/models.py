from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    Double,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from eco2.platform.db import Base, utcnow

SCHEMA = "location"


class Earth(UserDefinedType[str]):
    """earthdistance's ``earth`` (a cube domain); only ever compared inside SQL."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "public.earth"


class Site(Base):
    """One place on the map. ``id`` is unique across sources; (source, source_key) is stable."""

    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("source", "source_key"),
        # earthdistance (cube) GiST: radius boxes and KNN ordering without scanning the table.
        # It covers the map's filter columns and ``id``, so a filtered map query is an
        # index-only scan that reads table rows only for the places it returns.
        Index(
            "ix_sites_earth_covering",
            "earth",
            postgresql_using="gist",
            postgresql_include=["id", "store_category", "pickup_categories"],
        ),
        Index(
            "ix_sites_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        Index(
            "ix_sites_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(64))
    merged_keys: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    name: Mapped[str] = mapped_column(String(200))
    road_address: Mapped[str | None] = mapped_column(String(300))
    lot_address: Mapped[str | None] = mapped_column(String(300))
    location_note: Mapped[str | None] = mapped_column(String(300))
    region: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    # The point on earthdistance's sphere, computed once on write; GiST-indexed.
    earth: Mapped[str] = mapped_column(
        Earth, Computed("ll_to_earth(latitude, longitude)", persisted=True), deferred=True
    )
    store_category: Mapped[str] = mapped_column(String(32))
    pickup_categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    collection_items: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    phone: Mapped[str | None] = mapped_column(String(32))
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    introduction: Mapped[str | None] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    homepage: Mapped[str | None] = mapped_column(String(500))
    place_url: Mapped[str | None] = mapped_column(String(500))
    kakao_place_id: Mapped[str | None] = mapped_column(String(32))
    hours: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    search_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
