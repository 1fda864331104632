from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from eco2.platform.db import Base, utcnow

SCHEMA = "character"


class Character(Base):
    __tablename__ = "characters"
    __table_args__ = {"schema": SCHEMA}

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    middle_category: Mapped[str | None] = mapped_column(String(32), unique=True)
    type_label: Mapped[str] = mapped_column(String(32))
    dialog: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer)


class Ownership(Base):
    """One row per (user, character): the unique constraint makes grants idempotent."""

    __tablename__ = "ownerships"
    __table_args__ = (
        UniqueConstraint("user_id", "character_code"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    character_code: Mapped[str] = mapped_column(
        String(32), ForeignKey(f"{SCHEMA}.characters.code", ondelete="CASCADE")
    )
    source_id: Mapped[str | None] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
