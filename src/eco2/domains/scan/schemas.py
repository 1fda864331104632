"""Scan API shapes. ``ScanResponse`` is exactly the web client's contract (§3.10, §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from eco2.domains.character.schemas import Reward

ImageUrl = Annotated[str, msgspec.Meta(min_length=8, max_length=2048)]
UserInput = Annotated[str, msgspec.Meta(max_length=500)]
Stage = Literal["queued", "vision", "rule", "answer", "reward", "done"]
StageStatus = Literal["started", "completed", "failed"]


class ClassifyRequest(msgspec.Struct):
    image_url: ImageUrl
    user_input: UserInput | None = None
    model: str | None = None  # sent by the later client; the server's configuration decides


class InternalClassify(msgspec.Struct, forbid_unknown_fields=True):
    """Another domain (chat) asking for a scan on a user's behalf."""

    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    image_url: ImageUrl
    user_input: UserInput | None = None


class Classification(msgspec.Struct):
    major_category: str
    middle_category: str
    minor_category: str


class ClassificationResult(msgspec.Struct):
    classification: Classification
    situation_tags: list[str]
    confidence: float
    provider: str


class DisposalRules(msgspec.Struct):
    title: str
    summary: str
    rules: list[str]
    tips: list[str]


class FinalAnswer(msgspec.Struct):
    disposal_steps: dict[str, str]
    insufficiencies: list[str]
    user_answer: str


class PipelineResult(msgspec.Struct):
    classification_result: ClassificationResult
    disposal_rules: DisposalRules
    final_answer: FinalAnswer


class ScanError(msgspec.Struct):
    code: str
    message: str


class ScanResponse(msgspec.Struct):
    """``reward`` is always present: an object, or an explicit ``null`` when nothing is granted."""

    task_id: str
    status: Literal["queued", "running", "completed", "failed"]
    message: str
    pipeline_result: PipelineResult | None
    reward: Reward | None
    error: ScanError | None


class JobAccepted(msgspec.Struct):
    job_id: str
    stream_url: str
    result_url: str
    status: Literal["queued"]


class ScanEvent(msgspec.Struct, omit_defaults=True):
    job_id: str
    stage: Stage
    status: StageStatus
    seq: int
    ts: float
    progress: int | None = None
    result: dict[str, Any] | None = None


class ScanSummary(msgspec.Struct):
    id: str
    status: str
    created_at: datetime
    image_url: str
    user_input: str | None
    major_category: str | None
    middle_category: str | None
    minor_category: str | None
    reward_name: str | None
    error_code: str | None


class HistoryPage(msgspec.Struct):
    items: list[ScanSummary]
    next_cursor: str | None
    has_more: bool


class ScanCategory(msgspec.Struct):
    major_category: str
    middle_category: str
    recyclable: bool
    minor_categories: list[str]
    pickup_category: str | None


class ScanMetrics(msgspec.Struct):
    """The signed-in user's own counters (fleet-wide numbers live in Prometheus)."""

    total: int
    completed: int
    failed: int
    recyclable: int
    rewarded: int
    by_middle_category: dict[str, int]
    last_scan_at: datetime | None
