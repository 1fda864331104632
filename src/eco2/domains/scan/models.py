from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, String, Text, Uuid, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from eco2.platform.db import Base, utcnow

SCHEMA = "scan"


class Scan(Base):
    """Every scan, synchronous or queued: its input, what was seen, the answer and the reward.

    ``status``: queued → running → completed | failed. ``timings`` holds seconds per step
    (vision, rule, answer, reward). ``error_code`` is set when the scan failed.
    ``reward_due``: the scan deserves a reward that is not recorded on it yet (it is stored
    before the reward is granted; ``ScanService.settle_rewards`` grants what a crash left).
    """

    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_user_created", "user_id", "created_at"),
        Index("ix_scans_reward_due", "completed_at", postgresql_where="reward_due"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    mode: Mapped[str] = mapped_column(String(8))  # sync | job
    status: Mapped[str] = mapped_column(String(16))
    image_url: Mapped[str] = mapped_column(String(2048))
    user_input: Mapped[str | None] = mapped_column(Text)
    vision_provider: Mapped[str] = mapped_column(String(16))
    answer_provider: Mapped[str] = mapped_column(String(16))
    major_category: Mapped[str | None] = mapped_column(String(32))
    middle_category: Mapped[str | None] = mapped_column(String(32))
    minor_category: Mapped[str | None] = mapped_column(String(64))
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    conditions: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    reward: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    reward_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    timings: Mapped[dict[str, float] | None] = mapped_column(JSONB(none_as_null=True))
    error_code: Mapped[str | None] = mapped_column(String(48))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
