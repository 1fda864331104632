from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from eco2.platform.db import Base, CreatedAt

SCHEMA = "auth"


class LinkedAccount(CreatedAt, Base):
    """A provider account linked to one of our users."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "provider_user_id"),
        Index("ix_linked_accounts_verified_email", "email", postgresql_where="email_verified"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_user_id: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAudit(CreatedAt, Base):
    __tablename__ = "login_audit"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    provider: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class RefreshToken(CreatedAt, Base):
    """Issued refresh tokens by ``jti``, grouped in rotation families (reuse detection)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = {"schema": SCHEMA}

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    provider: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the token this one was rotated into: a reuse within the grace gets that one back
    successor_jti: Mapped[str | None] = mapped_column(String(64))


class RevocationOutbox(CreatedAt, Base):
    """A revocation (a ``blacklist:…`` key and when it may be forgotten), written in the same
    transaction that revokes in the database and removed once Redis has it. While Redis is
    away it waits here; it is applied when Redis returns (``auth.revocations``)."""

    __tablename__ = "revocation_outbox"
    __table_args__ = {"schema": SCHEMA}

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
