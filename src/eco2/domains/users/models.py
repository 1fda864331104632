from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from eco2.platform.db import Base, CreatedAt, utcnow

SCHEMA = "users"


class User(CreatedAt, Base):
    __tablename__ = "users"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64))
    nickname: Mapped[str] = mapped_column(String(20))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    profile_image_url: Mapped[str | None] = mapped_column(String(2048))
    provider: Mapped[str] = mapped_column(String(16))
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Erasure(Base):
    """An account deletion: requested, then carried out by a job domain by domain (``erased``
    lists those done) until the user row goes last. Kept once ``completed`` as the record that
    the account was erased (the id is all it holds)."""

    __tablename__ = "erasures"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | completed
    erased: Mapped[list[str]] = mapped_column(JSONB, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
