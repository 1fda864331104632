"""Scans: run the pipeline now (classify) or as a durable job, store every scan, read them back.

A scan is stored before its reward is granted, and the row says when a reward is still owed
(``reward_due``): a reward never exists without its stored scan, and a reward owed by a scan
whose process died before the grant is granted by ``settle_rewards``. Grants are idempotent
per scan (the character's source is ``scan:<id>``).

A scan job (``POST /scan``) runs at least once on the ``scan`` queue and has one effect: its
row is keyed by the job id, a retry that finds the scan already stored only finishes it (the
reward, the last events), and its events are logged once each (:mod:`eco2.platform.job_events`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import msgspec
import structlog
from redis.exceptions import RedisError
from sqlalchemy import bindparam, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import SQLAlchemyError

from eco2.domains.character.interface import character_port
from eco2.domains.character.schemas import Reward
from eco2.domains.images.interface import check_image_url
from eco2.domains.scan import store
from eco2.domains.scan.events import KIND, TERMINAL, JobEmitter, event
from eco2.domains.scan.models import Scan
from eco2.domains.scan.pipeline import STEP_SECONDS, Emitter, Outcome, Pipeline, Silent
from eco2.domains.scan.providers import Clients, build_answers, build_vision
from eco2.domains.scan.providers.base import ScanInput
from eco2.domains.scan.providers.images import lazy_image
from eco2.domains.scan.providers.matching import knowledge
from eco2.domains.scan.results import abandoned_response, response_for, to_scan_response
from eco2.domains.scan.results import row_values as outcome_values
from eco2.domains.scan.schemas import (
    ClassifyRequest,
    HistoryPage,
    JobAccepted,
    ScanMetrics,
    ScanResponse,
)
from eco2.platform import idempotency, ratelimit
from eco2.platform.batching import BatchWriter
from eco2.platform.db import utcnow
from eco2.platform.errors import NotFound, ServiceUnavailable
from eco2.platform.ids import parse_user_id
from eco2.platform.job_events import (
    EventHub,
    EventLog,
    JobStream,
    JobStreams,
    StaleAttempt,
    StreamPolicy,
    StreamSlots,
)
from eco2.platform.jobs import (
    RETRY_SECONDS,
    Attempt,
    JobSpec,
    Payload,
    Periodic,
    RetryLater,
    job_lifetime,
)
from eco2.platform.runtime import Runtime
from eco2.registry import API, job_stream_path

if TYPE_CHECKING:
    from sqlalchemy import Table

log = structlog.get_logger(__name__)

SCANS = cast(
    "Table", Scan.__table__
)  # Core statements: the ORM's bulk-insert bookkeeping costs CPU per scan
OWNED_CACHE_SIZE = 100_000
"""(user, middle category) pairs known to own their character; a repeat grant is a no-op."""
UNFINISHED = ("queued", "running")
SETTLE_AFTER = timedelta(minutes=1)  # owed rewards older than this are granted by the sweep
SETTLE_BATCH = 200
STORE_FAILED = "분석 결과를 저장하지 못했어요. 잠시 후 다시 시도해 주세요."


class ScanJob(msgspec.Struct):
    """What a scan job needs to run (everything: the job may run before its row exists)."""

    user_id: str
    image_url: str
    user_input: str | None = None


def owes_reward(rows: list[dict[str, Any]]) -> bool:
    return any(row.get("reward_due") for row in rows)


class ScanService:
    """Process-wide: the providers, the scan queue, the event log and its streams."""

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
        self.events = EventLog(
            runtime.redis, KIND, ttl=settings.scan_events_ttl_seconds, terminal=TERMINAL
        )
        self.streams = JobStreams(
            EventHub(self.events, runtime.stopping),
            StreamSlots(runtime.redis, settings.stream_max_per_user),
            StreamPolicy(on_deadline=self._deadline_event),
            missing=lambda: NotFound("분석 작업을 찾을 수 없습니다.", code="scan_not_found"),
            path=job_stream_path,
            tokens=runtime.tokens,
            lifetime=self.lifetime,
        )
        self.inserts = BatchWriter.of(
            runtime.sessions, insert(SCANS), name="scan.inserts", durable=owes_reward
        )
        # A burst of submits: a few statements, not a pooled connection per submit.
        self.submits = BatchWriter.of(
            runtime.sessions, insert(SCANS).on_conflict_do_nothing(), name="scan.submits"
        )
        self.rewards = BatchWriter.of(
            runtime.sessions,
            update(SCANS)
            .where(SCANS.c.id == bindparam("b_id"), SCANS.c.reward_due)
            .values(
                reward=bindparam("b_reward"),
                reward_due=False,
                timings=func.coalesce(SCANS.c.timings, literal({}, JSONB)).op("||")(
                    bindparam("b_timing", type_=JSONB)
                ),
            ),
            name="scan.rewards",
        )
        self.queue = runtime.jobs.queue(KIND)
        self.queue.register(
            JobSpec("scan", self._run_job, self._give_up, timeout=settings.scan_timeout_seconds)
        )
        self.queue.periodic(Periodic("scan.settle_rewards", self.settle_rewards, "* * * * *"))
        self._owned: OrderedDict[tuple[str, str], tuple[Reward, uuid.UUID]] = OrderedDict()

    @property
    def lifetime(self) -> float:
        return job_lifetime(self.runtime.settings, self.runtime.settings.scan_timeout_seconds)

    # --- running ----------------------------------------------------------------------------

    def _input(self, image_url: str, user_input: str | None) -> ScanInput:
        settings = self.runtime.settings
        fetch = lazy_image(
            self.runtime.http,
            image_url,
            max_bytes=settings.image_max_bytes,
            timeout=settings.scan_image_fetch_timeout_seconds,
        )
        return ScanInput(
            image_url=image_url, user_input=(user_input or "").strip() or None, image_bytes=fetch
        )

    async def _run(self, scan_id: uuid.UUID, job: ScanJob, emit: Emitter) -> Outcome:
        outcome = await self.pipeline.run(self._input(job.image_url, job.user_input), emit)
        if outcome.error_code:
            log.warning("scan_failed", scan_id=str(scan_id), code=outcome.error_code)
        return outcome

    def _row(self, scan_id: uuid.UUID, job: ScanJob, mode: str) -> dict[str, Any]:
        return {
            "id": scan_id,
            "user_id": parse_user_id(job.user_id),
            "mode": mode,
            "image_url": job.image_url,
            "user_input": job.user_input,
            "vision_provider": self.pipeline.vision.name,
            "answer_provider": self.pipeline.answers.name,
        }

    async def _grant(self, user_id: str, middle: str, scan_id: uuid.UUID) -> Reward | None:
        key = (user_id, middle)
        owned = self._owned.get(key)
        if owned is not None and owned[1] != scan_id:  # owned thanks to another scan: no write
            self._owned.move_to_end(key)
            return owned[0]
        reward = await character_port(self.runtime).grant(user_id, middle, f"scan:{scan_id}")
        if reward is not None:
            self._remember_owned(key, reward, scan_id)
        return reward

    def _remember_owned(self, key: tuple[str, str], reward: Reward, scan_id: uuid.UUID) -> None:
        """Ownership never goes away: a later scan of the same kind skips the write."""
        repeat = msgspec.structs.replace(reward, received=False, already_owned=True)
        self._owned[key] = (repeat, scan_id)
        if len(self._owned) > OWNED_CACHE_SIZE:
            self._owned.popitem(last=False)

    async def _reward(self, scan_id: uuid.UUID, user_id: str, middle: str) -> Reward | None:
        """Grant the reward a stored scan owes and record it on the scan."""
        started = time.perf_counter()
        reward = await self._grant(user_id, middle, scan_id)
        elapsed = time.perf_counter() - started
        STEP_SECONDS.labels(step="reward").observe(elapsed)
        await self.rewards.write(
            {
                "b_id": scan_id,
                "b_reward": msgspec.to_builtins(reward),
                "b_timing": {"reward": round(elapsed, 4)},
            }
        )
        return reward

    def limit(self, user_id: str) -> AbstractAsyncContextManager[None]:
        """Each scan is a paid model call: one per-user budget for sync scans and jobs."""
        settings = self.runtime.settings
        return ratelimit.per_user(
            self.runtime.redis,
            "scan",
            user_id,
            settings.scan_rate_limit,
            settings.scan_rate_window_seconds,
            "사진 분석 요청이",
        )

    async def classify(self, user_id: str, data: ClassifyRequest) -> ScanResponse:
        """Synchronous scan: stored first, then rewarded; nothing held during the model call."""
        check_image_url(self.runtime.settings, data.image_url)
        scan_id = uuid.uuid4()
        job = ScanJob(user_id, data.image_url, data.user_input)
        outcome = await self._run(scan_id, job, Silent())
        try:
            await self.inserts.write({**self._row(scan_id, job, "sync"), **outcome_values(outcome)})
        except SQLAlchemyError as exc:  # not stored, so not rewarded either
            log.warning("scan_not_stored", scan_id=str(scan_id), error=repr(exc))
            raise ServiceUnavailable(STORE_FAILED, code="scan_store_unavailable") from exc
        if outcome.reward_due and outcome.observation is not None:
            try:
                outcome.reward = await self._reward(scan_id, user_id, outcome.observation.middle)
            except Exception as exc:  # still owed on the stored scan: the sweep grants it
                log.warning("scan_reward_deferred", scan_id=str(scan_id), error=repr(exc))
        return response_for(scan_id, outcome)

    # --- jobs -------------------------------------------------------------------------------

    async def submit(
        self, user_id: str, data: ClassifyRequest, idempotency_key: str | None = None
    ) -> JobAccepted:
        """Accept a scan job (a retry with the same ``Idempotency-Key`` gets the first job)."""
        check_image_url(self.runtime.settings, data.image_url)
        settings = self.runtime.settings
        async with idempotency.submission(
            self.runtime.redis,
            KIND,
            user_id,
            idempotency_key,
            data,
            settings.idempotency_ttl_seconds,
            self.limit(user_id),
        ) as job_id:
            return await self._queue(user_id, data, job_id)

    async def _queue(self, user_id: str, data: ClassifyRequest, job_id: str) -> JobAccepted:
        job = ScanJob(user_id, data.image_url, data.user_input)
        queued = event(job_id, "queued", "completed", progress=0)
        try:
            deadline = time.time() + self.lifetime
            created = await self.events.create(
                job_id, user_id, deadline, ("queued", "queued:completed", queued)
            )
        except RedisError as exc:
            raise ServiceUnavailable(code="event_store_unavailable") from exc
        await self.submits.write({**self._row(uuid.UUID(job_id), job, "job"), "status": "queued"})
        await self.queue.enqueue("scan", job_id, msgspec.to_builtins(job))
        return JobAccepted(
            job_id=job_id,
            stream_url=await self.streams.url(job_id, user_id, deadline if created else None),
            result_url=f"{API}/scan/{job_id}/result",
            status="queued",
        )

    async def _run_job(self, attempt: Attempt, payload: Payload) -> None:
        job = msgspec.convert(payload, ScanJob)
        scan_id = uuid.UUID(attempt.job_id)
        try:
            emit = JobEmitter(await self.events.writer(attempt.job_id, attempt.number))
            scan = await self._load(scan_id)
            if scan is None or scan.status in UNFINISHED:
                await self._store(scan_id, job, {"status": "running"})
                outcome = await self._run(scan_id, job, emit)
                await self._store(scan_id, job, outcome_values(outcome))
                scan = await self._load(scan_id)
            assert scan is not None
            await self._finish(scan, emit, attempt)
        except StaleAttempt:  # a newer attempt took the job over
            return
        except (SQLAlchemyError, RedisError, OSError) as exc:
            raise RetryLater(f"store unavailable: {exc!r}", RETRY_SECONDS) from exc

    async def _give_up(self, attempt: Attempt, payload: Payload) -> None:
        """Attempts used up (a crash loop, or the stores stayed away): end as a failed scan."""
        job = msgspec.convert(payload, ScanJob)
        scan_id = uuid.UUID(attempt.job_id)
        try:
            emit = JobEmitter(await self.events.writer(attempt.job_id, attempt.number))
        except StaleAttempt:
            return
        failed = {"status": "failed", "error_code": "scan_abandoned", "completed_at": utcnow()}
        await self._store(scan_id, job, failed)
        scan = await self._load(scan_id)
        if scan is not None:
            await self._finish(scan, emit, attempt)

    async def _finish(self, scan: Scan, emit: JobEmitter, attempt: Attempt) -> None:
        """The reward (if owed) and the final events of a stored scan."""
        response = to_scan_response(scan)
        if response.pipeline_result is not None and scan.middle_category:
            if scan.reward_due:
                await emit.append("reward", "started")
                try:
                    response.reward = await self._reward(
                        scan.id, str(scan.user_id), scan.middle_category
                    )
                except Exception as exc:
                    if not attempt.last:
                        raise RetryLater(f"reward: {exc!r}", RETRY_SECONDS) from exc
                    log.warning("scan_reward_deferred", scan_id=str(scan.id), error=repr(exc))
            await emit.append("reward", "completed", progress=90)
        # Failed or not, a finished scan ends with done/completed: the client then reads the
        # result, whose pipeline_result is null on failure (contract §7).
        await emit.append("done", "completed", progress=100, result=msgspec.to_builtins(response))

    async def _load(self, scan_id: uuid.UUID) -> Scan | None:
        async with self.runtime.sessions() as session:
            return await session.get(Scan, scan_id)

    async def _store(self, scan_id: uuid.UUID, job: ScanJob, values: dict[str, Any]) -> None:
        """Insert or update the job's row, never over a finished scan (durable: a reward may
        follow)."""
        row = {**self._row(scan_id, job, "job"), "status": "running", **values}
        statement = (
            insert(SCANS)
            .values(row)
            .on_conflict_do_update(
                index_elements=[SCANS.c.id], set_=values, where=SCANS.c.status.in_(UNFINISHED)
            )
        )
        async with self.runtime.sessions.begin() as session:
            await session.execute(statement)

    async def settle_rewards(self) -> int:
        """Grant the rewards owed by scans whose process died between storing and granting."""
        async with self.runtime.sessions() as session:
            owed = (
                await session.execute(
                    select(SCANS.c.id, SCANS.c.user_id, SCANS.c.middle_category)
                    .where(SCANS.c.reward_due, SCANS.c.completed_at < utcnow() - SETTLE_AFTER)
                    .limit(SETTLE_BATCH)
                )
            ).all()
        for scan_id, user_id, middle in owed:
            try:
                await self._reward(scan_id, str(user_id), middle)
            except Exception as exc:  # the next sweep tries again
                log.warning("scan_reward_deferred", scan_id=str(scan_id), error=repr(exc))
        if owed:
            log.info("scan_rewards_settled", count=len(owed))
        return len(owed)

    # --- reading ----------------------------------------------------------------------------

    async def stream(self, user_id: str, job_id: str, since: int | None) -> JobStream:
        return await self.streams.open(user_id, job_id, since)

    def _deadline_event(self, job_id: str) -> tuple[str, Any]:
        """A stream that outlived every attempt of its job: the scan has failed."""
        result = msgspec.to_builtins(abandoned_response(job_id))
        return "done", event(job_id, "done", "completed", progress=100, result=result)(0)

    async def result(self, user_id: str, job_id: str) -> ScanResponse:
        async with self.runtime.sessions() as session:
            scan = await store.owned_scan(session, parse_user_id(user_id), job_id)
        if store.abandoned(scan, self.lifetime):
            return abandoned_response(job_id)
        return to_scan_response(scan)

    async def history(self, user_id: str, limit: int, cursor: str | None) -> HistoryPage:
        async with self.runtime.sessions() as session:
            return await store.history(session, parse_user_id(user_id), limit, cursor)

    async def metrics(self, user_id: str) -> ScanMetrics:
        async with self.runtime.sessions() as session:
            return await store.metrics(session, parse_user_id(user_id))

    @classmethod
    async def start(cls, runtime: Runtime) -> ScanService:
        """Build the providers once per process, off the event loop (the knowledge index warms
        up in the background: the controllers' ``warm_ups``)."""
        service = await asyncio.to_thread(cls, runtime)
        warm_vision = getattr(service.pipeline.vision, "warm_up", None)
        if warm_vision is not None:
            await asyncio.to_thread(warm_vision)
        for writer in (service.inserts, service.submits, service.rewards):
            writer.start()
        service.streams.start()
        return service

    async def close(self) -> None:
        await self.streams.close()
        for writer in (self.inserts, self.submits, self.rewards):
            await writer.close()
        await self.clients.aclose()
        close = getattr(self.pipeline.vision, "close", None)
        if close is not None:
            await close()

    async def forget_user(self, user_id: str) -> None:
        async with self.runtime.sessions.begin() as session:
            await session.execute(delete(Scan).where(Scan.user_id == parse_user_id(user_id)))
