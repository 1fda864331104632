"""Scans: run the pipeline now (classify) or as a job, store every scan, read them back."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import msgspec
import structlog
from litestar import Litestar
from sqlalchemy import delete, insert, update

from eco2.domains.character.interface import character_port
from eco2.domains.character.schemas import Reward
from eco2.domains.images.interface import check_image_url
from eco2.domains.scan.events import EventLog, event_hub
from eco2.domains.scan.models import Scan
from eco2.domains.scan.pipeline import Emitter, Outcome, Pipeline, Silent
from eco2.domains.scan.providers import Clients, build_answers, build_vision
from eco2.domains.scan.providers.base import Observation, ScanInput
from eco2.domains.scan.providers.images import lazy_image
from eco2.domains.scan.providers.matching import knowledge
from eco2.domains.scan.results import response_for, row_values
from eco2.domains.scan.schemas import ClassifyRequest, JobAccepted, ScanResponse
from eco2.domains.scan.writer import BatchWriter
from eco2.platform.ids import parse_user_id
from eco2.platform.runtime import Runtime
from eco2.platform.tracing import traced_job
from eco2.registry import API

if TYPE_CHECKING:
    from sqlalchemy import Table

log = structlog.get_logger(__name__)

SCANS = cast(
    "Table", Scan.__table__
)  # Core statements: the ORM's bulk-insert bookkeeping costs CPU per scan
OWNED_CACHE_SIZE = 100_000
"""(user, middle category) pairs known to own their character; a repeat grant is a no-op."""


class ScanService:
    """Process-wide: the providers, the event hub and the running jobs."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.clients = Clients(settings)
        self.pipeline = Pipeline(
            kb=knowledge(),
            vision=build_vision(settings, knowledge(), self.clients),
            answers=build_answers(settings, self.clients),
            timeout=settings.scan_timeout_seconds,
        )
        self.hub = event_hub(runtime.redis)
        self.writer = BatchWriter(runtime.sessions, SCANS)
        self._jobs: set[asyncio.Task[None]] = set()
        self._owned: OrderedDict[tuple[str, str], Reward] = OrderedDict()

    # --- running ----------------------------------------------------------------------------

    def _input(self, data: ClassifyRequest) -> ScanInput:
        settings = self.runtime.settings
        fetch = lazy_image(
            self.runtime.http,
            data.image_url,
            max_bytes=settings.image_max_bytes,
            timeout=settings.scan_image_fetch_timeout_seconds,
        )
        user_input = (data.user_input or "").strip() or None
        return ScanInput(image_url=data.image_url, user_input=user_input, image_bytes=fetch)

    def _grant(
        self, user_id: str, scan_id: uuid.UUID
    ) -> Callable[[Observation], Awaitable[Reward | None]]:
        port = character_port(self.runtime)

        async def grant(observation: Observation) -> Reward | None:
            key = (user_id, observation.middle)
            if key in self._owned:  # ownership never goes away: skip the write transaction
                self._owned.move_to_end(key)
                return self._owned[key]
            reward = await port.grant(user_id, observation.middle, f"scan:{scan_id}")
            if reward is not None:
                self._remember_owned(key, reward)
            return reward

        return grant

    def _remember_owned(self, key: tuple[str, str], reward: Reward) -> None:
        self._owned[key] = msgspec.structs.replace(reward, received=False, already_owned=True)
        if len(self._owned) > OWNED_CACHE_SIZE:
            self._owned.popitem(last=False)

    async def _run(
        self, scan_id: uuid.UUID, user_id: str, data: ClassifyRequest, emit: Emitter
    ) -> tuple[Outcome, ScanResponse]:
        outcome = await self.pipeline.run(self._input(data), self._grant(user_id, scan_id), emit)
        response = response_for(scan_id, outcome)
        if outcome.error_code:
            log.warning("scan_failed", scan_id=str(scan_id), code=outcome.error_code)
        return outcome, response

    def _row(
        self, scan_id: uuid.UUID, user_id: str, data: ClassifyRequest, mode: str
    ) -> dict[str, Any]:
        return {
            "id": scan_id,
            "user_id": parse_user_id(user_id),
            "mode": mode,
            "image_url": data.image_url,
            "user_input": data.user_input,
            "vision_provider": self.pipeline.vision.name,
            "answer_provider": self.pipeline.answers.name,
        }

    async def classify(self, user_id: str, data: ClassifyRequest) -> ScanResponse:
        """Synchronous scan: one short write after the pipeline, nothing held during it."""
        check_image_url(self.runtime.settings, data.image_url)
        scan_id = uuid.uuid4()
        outcome, response = await self._run(scan_id, user_id, data, Silent())
        values = {**self._row(scan_id, user_id, data, "sync"), **row_values(outcome, response)}
        await self.writer.write(values)
        return response

    async def submit(self, user_id: str, data: ClassifyRequest) -> JobAccepted:
        check_image_url(self.runtime.settings, data.image_url)
        scan_id = uuid.uuid4()
        events = EventLog(
            self.runtime.redis, str(scan_id), self.runtime.settings.scan_events_ttl_seconds
        )
        async with self.runtime.sessions.begin() as session:
            row = {**self._row(scan_id, user_id, data, "job"), "status": "queued"}
            await session.execute(insert(SCANS).values(row))
        await events.open(user_id)
        await events.append("queued", "completed", progress=0)
        job_id = str(scan_id)
        task = asyncio.create_task(
            traced_job("scan", job_id, self._job(scan_id, user_id, data, events))
        )
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return JobAccepted(
            job_id=job_id,
            stream_url=f"{API}/scan/{job_id}/events",
            result_url=f"{API}/scan/{job_id}/result",
            status="queued",
        )

    async def _job(
        self, scan_id: uuid.UUID, user_id: str, data: ClassifyRequest, events: EventLog
    ) -> None:
        try:
            await self._set(scan_id, status="running")
            outcome, response = await self._run(scan_id, user_id, data, events)
            await self._set(scan_id, **row_values(outcome, response))
            await events.append(
                "done",
                "failed" if outcome.error_code else "completed",
                progress=100,
                result=msgspec.to_builtins(response),
            )
        except Exception:
            log.exception("scan_job_crashed", scan_id=str(scan_id))
            await self._set(scan_id, status="failed", error_code="internal_error")
            await events.append("done", "failed", progress=100)

    async def _set(self, scan_id: uuid.UUID, **values: Any) -> None:
        async with self.runtime.sessions.begin() as session:
            await session.execute(update(SCANS).where(SCANS.c.id == scan_id).values(**values))

    async def close(self) -> None:
        for task in list(self._jobs):
            task.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self.hub.close()
        await self.writer.close()
        await self.clients.aclose()
        close = getattr(self.pipeline.vision, "close", None)
        if close is not None:
            await close()


# --- lifecycle ------------------------------------------------------------------------------


async def start(app: Litestar) -> None:
    """Build the providers once per process, off the event loop (the knowledge index warms up
    in the background: the controllers' ``warm_ups``)."""
    service = await asyncio.to_thread(ScanService, app.state.runtime)
    warm_vision = getattr(service.pipeline.vision, "warm_up", None)
    if warm_vision is not None:
        await asyncio.to_thread(warm_vision)
    service.writer.start()
    app.state.scan_service = service


async def stop(app: Litestar) -> None:
    """Runs only after ``start`` succeeded (the app's domain lifecycle)."""
    service: ScanService = app.state.scan_service
    await service.close()


async def forget_user(runtime: Runtime, user_id: str) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(delete(Scan).where(Scan.user_id == parse_user_id(user_id)))
