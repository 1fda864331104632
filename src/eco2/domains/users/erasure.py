"""Account erasure: an idempotent job, retried until every domain that holds user data has
erased the user, the account itself last.

``DELETE /user/me`` records the request (``users.erasures``, state ``pending``) and queues the
job; the request is answered once the record is committed, so a deletion survives any crash
after that. The job erases domain by domain (``interop.erasure_order``: sessions first, the
account last), noting each domain done, so a job that dies part-way resumes where it stopped;
a domain that fails is retried (the job's attempts, then the ``users.resume_erasures`` sweep
every minute, without end). The state is visible in ``/internal/users/erasures/{id}`` and in
``/metrics`` (``eco2_user_erasures*``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from eco2 import interop
from eco2.domains.users.models import Erasure
from eco2.platform.db import utcnow
from eco2.platform.errors import NotFound
from eco2.platform.ids import parse_user_id
from eco2.platform.jobs import Attempt, JobSpec, Payload, Periodic, RetryLater
from eco2.platform.runtime import Runtime

log = structlog.get_logger(__name__)

QUEUE = "users"
JOB = "erase"
RETRY_SECONDS = 5.0
RESUME_AFTER = timedelta(minutes=1)  # a pending erasure with no job this long is queued again
JOB_TIMEOUT_SECONDS = 120.0
CONCURRENCY = 10  # erasures are rare; each touches every domain

ERASURES = Counter(
    "eco2_user_erasures", "Account erasures by event (requested, completed).", ["event"]
)
ERASURE_STEPS = Counter(
    "eco2_user_erasure_steps", "Domains an account erasure has gone through.", ["domain"]
)
ERASURE_FAILURES = Counter(
    "eco2_user_erasure_step_failures", "Failed erasure steps (retried).", ["domain"]
)
PENDING = Gauge("eco2_user_erasures_pending", "Account erasures not finished yet.")


class ErasureState(msgspec.Struct):
    user_id: str
    state: str
    erased: list[str]
    attempts: int
    last_error: str | None
    requested_at: str
    completed_at: str | None


def job_id(user_id: str) -> str:
    return f"erase-{user_id}"


class Erasures:
    """The users domain's erasure job and its sweep."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.queue = runtime.jobs.queue(QUEUE, concurrency=CONCURRENCY)
        self.queue.register(JobSpec(JOB, self._run, self._give_up, timeout=JOB_TIMEOUT_SECONDS))
        self.queue.periodic(Periodic("users.resume_erasures", self.resume, "* * * * *"))

    async def request(self, user_id: str) -> None:
        """Record the deletion (committed before this returns), then queue its job; a job
        that cannot be queued now is queued by the sweep."""
        key = parse_user_id(user_id)
        async with self.runtime.sessions.begin() as session:
            created = await session.execute(
                insert(Erasure)
                .values(user_id=key, state="pending", erased=[], attempts=0)
                .on_conflict_do_nothing()
                .returning(Erasure.user_id)
            )
            if created.first() is not None:
                ERASURES.labels("requested").inc()
                PENDING.inc()
        try:
            await self.queue.enqueue(JOB, job_id(user_id), {"user_id": user_id})
        except Exception as exc:  # recorded: the sweep queues it
            log.warning("erasure_not_queued", user_id=user_id, error=repr(exc))

    async def _run(self, attempt: Attempt, payload: Payload) -> None:
        user_id = str(payload["user_id"])
        key = uuid.UUID(user_id)
        async with self.runtime.sessions() as session:
            erasure = await session.get(Erasure, key)
        if erasure is None or erasure.state == "completed":
            return
        done = set(erasure.erased)
        for domain in interop.erasure_order():
            if domain.name in done:
                continue
            try:
                await interop.forget_in(self.runtime, domain, user_id)
            except Exception as exc:
                ERASURE_FAILURES.labels(domain.name).inc()
                await self._note_failure(key, f"{domain.name}: {exc!r}")
                raise RetryLater(f"erasing in {domain.name}", RETRY_SECONDS) from exc
            await self._note_erased(key, domain.name)
            ERASURE_STEPS.labels(domain.name).inc()
        async with self.runtime.sessions.begin() as session:
            await session.execute(
                update(Erasure)
                .where(Erasure.user_id == key)
                .values(state="completed", completed_at=utcnow(), last_error=None)
            )
        ERASURES.labels("completed").inc()
        PENDING.dec()
        log.info("user_erased", user_id=user_id, attempts=attempt.number)

    async def _give_up(self, attempt: Attempt, payload: Payload) -> None:
        """Not given up: the erasure stays pending and the sweep queues it again."""
        log.warning("erasure_postponed", user_id=payload.get("user_id"), attempt=attempt.number)

    async def _note_erased(self, key: uuid.UUID, domain: str) -> None:
        async with self.runtime.sessions.begin() as session:
            await session.execute(
                update(Erasure)
                .where(Erasure.user_id == key)
                .values(erased=Erasure.erased.op("||")(func.jsonb_build_array(domain)))
            )

    async def _note_failure(self, key: uuid.UUID, error: str) -> None:
        async with self.runtime.sessions.begin() as session:
            await session.execute(
                update(Erasure)
                .where(Erasure.user_id == key)
                .values(attempts=Erasure.attempts + 1, last_error=error[:200])
            )

    async def resume(self) -> int:
        """Queue every erasure left pending (its job given up, or never queued)."""
        async with self.runtime.sessions() as session:
            pending = list(
                await session.scalars(
                    select(Erasure.user_id).where(
                        Erasure.state == "pending", Erasure.requested_at < utcnow() - RESUME_AFTER
                    )
                )
            )
            PENDING.set(
                await session.scalar(
                    select(func.count()).select_from(Erasure).where(Erasure.state == "pending")
                )
                or 0
            )
        for key in pending:
            await self.queue.enqueue(JOB, job_id(str(key)), {"user_id": str(key)})
        return len(pending)

    async def state(self, user_id: str) -> ErasureState:
        async with self.runtime.sessions() as session:
            erasure = await session.get(Erasure, parse_user_id(user_id))
        if erasure is None:
            raise NotFound("삭제 요청을 찾을 수 없습니다.", code="erasure_not_found")
        return ErasureState(
            user_id=user_id,
            state=erasure.state,
            erased=list(erasure.erased),
            attempts=erasure.attempts,
            last_error=erasure.last_error,
            requested_at=erasure.requested_at.isoformat(),
            completed_at=erasure.completed_at.isoformat() if erasure.completed_at else None,
        )
