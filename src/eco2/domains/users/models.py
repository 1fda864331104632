from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Uuid
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
