"""Scan progress events on the kernel's job event log (:mod:`eco2.platform.jobs`).

Each event is named after its stage and carries a :class:`ScanEvent` (job_id, stage, status,
seq, ts, progress?, result?), the JSON the web client reads (contract §7).
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from eco2.domains.scan.schemas import ScanEvent, Stage, StageStatus
from eco2.platform import jobs

KIND = "scan"


def event_hub(redis: Redis) -> jobs.EventHub:
    return jobs.EventHub(redis, KIND, terminal=("done",))


class EventLog:
    """The pipeline's emitter: one scan job's stage events."""

    def __init__(self, redis: Redis, job_id: str, ttl: int) -> None:
        self.job_id = job_id
        self._log = jobs.EventLog(redis, KIND, job_id, ttl)

    async def open(self, user_id: str) -> None:
        await self._log.open(user_id)

    async def append(
        self,
        stage: Stage,
        status: StageStatus,
        *,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        def payload(seq: int) -> ScanEvent:
            return ScanEvent(self.job_id, stage, status, seq, time.time(), progress, result)

        await self._log.emit(stage, payload)
