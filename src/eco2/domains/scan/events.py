"""Scan progress events on the kernel's job event log (:mod:`eco2.platform.job_events`).

Each event is named after its stage and carries a :class:`ScanEvent` (job_id, stage, status,
seq, ts, progress?, result?), the JSON the web client reads (contract §7). A scan logs each
(stage, status) once, so a retried job re-emits its steps without the client seeing them
twice; ``done`` ends the stream.
"""

from __future__ import annotations

import time
from typing import Any

from eco2.domains.scan.schemas import ScanEvent, Stage, StageStatus
from eco2.platform.job_events import EventWriter

KIND = "scan"
TERMINAL = ("done",)


def event(
    job_id: str,
    stage: Stage,
    status: StageStatus,
    *,
    progress: int | None = None,
    result: dict[str, Any] | None = None,
) -> Any:
    """The payload of one event, built once its ``seq`` is known."""

    def payload(seq: int) -> ScanEvent:
        return ScanEvent(job_id, stage, status, seq, time.time(), progress, result)

    return payload


class JobEmitter:
    """The pipeline's emitter for a scan job: one attempt's events, each stage once."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    async def append(
        self,
        stage: Stage,
        status: StageStatus,
        *,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        payload = event(self.writer.job_id, stage, status, progress=progress, result=result)
        await self.writer.emit(stage, payload, key=f"{stage}:{status}")
