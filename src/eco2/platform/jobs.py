"""Durable background jobs: one queue per job domain on Redis Streams (streaq).

Why streaq, and what it costs: ``docs/decisions/job-engine.md``. In short:

* **At least once.** A job is a stream entry read by a consumer group; it is acknowledged
  only when its attempt ends. While an attempt runs, its worker renews the entry's claim three
  times per ``jobs_idle_timeout_seconds``; when a worker dies (SIGKILL, OOM) the renewals stop
  and any other worker (or the same one, restarted) claims the entry once it has been idle that
  long, and runs the job again.
* **Attempts are counted by the engine**, crashes included. A job gets ``Attempt.number``;
  past ``jobs_max_attempts`` it is not run again but given up (``JobSpec.give_up``), which
  ends it the way its users expect (a failed result, a final event), so a job that kills its
  worker every time cannot loop forever.
* **Effects are the job's business.** Running twice must have one effect: every job keys its
  writes by the job id (see the scan, chat and erasure jobs).
* **Graceful drain.** ``Jobs.begin_drain()`` (on SIGTERM, see :mod:`.shutdown`) stops taking
  new jobs, lets the running ones finish for up to ``jobs_drain_seconds`` and hands back the
  rest at once (another worker may claim them immediately); ``Jobs.stop()`` waits for it.
  ``eco2 serve`` runs the workers in-process unless ``ECO2_JOBS_IN_PROCESS`` is false;
  ``eco2 worker`` runs them alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import msgspec
import structlog
from anyio.abc import TaskStatus
from coredis.exceptions import RedisError as CoredisError
from prometheus_client import Counter, Gauge
from streaq import StreaqError, StreaqRetry, Worker
from streaq.constants import REDIS_GROUP, REDIS_HEALTH
from streaq.task import AsyncRegisteredTask, Task
from streaq.utils import now_ms

from eco2.platform import tracing
from eco2.platform.batching import BatchLoader
from eco2.platform.errors import ServiceUnavailable, failure_code
from eco2.settings import Settings

log = structlog.get_logger(__name__)

QUEUE_PREFIX = "eco2-"
"""streaq keys a queue's stream ``streaq:<queue>:queues:normal`` (read by KEDA)."""
STREAM_SUFFIX = ":queues:normal"
CONSUMER_GROUP = REDIS_GROUP
RENEWALS_PER_IDLE_TIMEOUT = 3
DEPTH_REFRESH_SECONDS = 5.0
TIMEOUT_MARGIN_SECONDS = 5.0  # the engine's own deadline, past the job's
STOP_MARGIN_SECONDS = 10.0
RESTART_SECONDS = 1.0
RETRY_SECONDS = 2.0  # the pause before another attempt, after a passing failure
LIFETIME_MARGIN_SECONDS = 30.0
MAX_ENQUEUE_BATCH = 256

JOBS = Counter(
    "eco2_jobs",
    "Job attempts by queue and outcome (completed, retried, given_up, handed_back).",
    ["queue", "outcome"],
)
QUEUE_DEPTH = Gauge(
    "eco2_job_queue_depth",
    "Jobs waiting or running in a queue (the queue's stream length).",
    ["queue"],
)
BACKLOG_AGE = Gauge(
    "eco2_job_backlog_age_seconds",
    "Age of the oldest job waiting or running in a queue (0: none).",
    ["queue"],
)
FAILURES = Counter(
    "eco2_job_failures",
    "Failed job attempts by queue and code (the failure's code, else its class; worker_lost).",
    ["queue", "code"],
)
TRACE_CONTEXT = "_trace"
"""The payload key carrying the submitting request's trace context (``traceparent``, ...)."""


def job_lifetime(settings: Settings, attempt_timeout: float) -> float:
    """The longest a job can take: every attempt, the pauses between and a dead worker's
    idle timeout each; a job's SSE streams end by then."""
    per_attempt = attempt_timeout + settings.jobs_idle_timeout_seconds + RETRY_SECONDS
    return settings.jobs_max_attempts * per_attempt + LIFETIME_MARGIN_SECONDS


def stream_key(queue: str) -> str:
    """The Redis stream behind a domain's queue (for KEDA's redis-streams scaler)."""
    return f"streaq:{QUEUE_PREFIX}{queue}{STREAM_SUFFIX}"


class RetryLater(Exception):
    """A job that failed for a passing reason (a model timeout, a dependency down): run it
    again after ``delay`` seconds, as another attempt."""

    def __init__(self, reason: str, delay: float = 1.0) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a job. ``number`` counts every run, including ones a crash cut short."""

    job_id: str
    number: int
    limit: int

    @property
    def last(self) -> bool:
        return self.number >= self.limit


Payload = dict[str, Any]
JobFunction = Callable[[Attempt, Payload], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A kind of job. ``run`` does the work (raise :class:`RetryLater` to go again);
    ``give_up`` ends a job whose attempts are used up. Both must be idempotent."""

    name: str
    run: JobFunction
    give_up: JobFunction
    timeout: float


@dataclass(frozen=True, slots=True)
class Periodic:
    """Housekeeping run on a cron schedule by one worker of the queue at a time."""

    name: str
    run: Callable[[], Awaitable[object]]
    cron: str
    timeout: float = 300.0


class _Worker(Worker[None]):
    """streaq's worker, stopped by its queue's ``stopping`` event instead of by an OS signal.

    streaq drains on SIGINT/SIGTERM from a signal receiver of its own (``signal_handler``),
    which inside a web server would take the server's signals away. Here the same drain is
    asked for by the process (``Jobs.begin_drain``): stop taking entries, let running jobs
    finish until the grace period ends, then hand them back (streaq marks an entry it gave up
    reclaimable at once).
    """

    def __init__(self, stopping: asyncio.Event, **options: Any) -> None:
        super().__init__(**options)
        self.stopping = stopping

    async def signal_handler(self, scope: anyio.CancelScope) -> None:
        await self.stopping.wait()
        scope.cancel("draining")
        deadline = anyio.current_time() + self.grace_period
        for running in self._cancel_scopes.values():
            running.deadline = min(running.deadline, deadline)

    async def renew_idle_timeouts(self, scope: anyio.CancelScope) -> None:
        """Keep the claims of running jobs (and this worker's health key) fresh, as streaq
        does, but ``RENEWALS_PER_IDLE_TIMEOUT`` times per idle timeout: streaq renews at 90 %
        of it, so an event loop busy with a burst of jobs for a tenth of the timeout would let
        another worker take jobs that are still running."""
        period = self.idle_timeout / 1000 / RENEWALS_PER_IDLE_TIMEOUT
        health = f"{self.prefix}{REDIS_HEALTH}:{self.id}"
        with scope:  # ends only after the consumers (the drain) have finished
            while True:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(health, str(self), px=self.idle_timeout)
                    pipe.zremrangebyscore(self._results_set, 0, now_ms())
                    for priority, running in self._running_tasks.items():
                        if running:
                            stream = self.stream_key + priority
                            pipe.xclaim(stream, REDIS_GROUP, self.id, 0, running, justid=True)
                await anyio.sleep(period)


_encode = msgspec.json.Encoder(enc_hook=repr).encode  # a failed task's result is an exception


STORE_FAILURES = (StreaqError, CoredisError, OSError, TimeoutError)


def _store_failure(exc: Exception) -> bool:
    """Redis away or too slow; coredis reports a failed connect from its task group, as a
    group of such errors."""
    if isinstance(exc, ExceptionGroup):
        return exc.split(STORE_FAILURES)[1] is None
    return isinstance(exc, STORE_FAILURES)


def _periodic(spec: Periodic) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await spec.run()

    return run


JobTask = Task[[Payload], None]


class JobQueue:
    """One domain's queue: jobs are enqueued here from any process and run by the processes
    that work this queue (``runner()``: a fresh streaq worker each time one starts, as a
    worker cannot be started twice). Enqueuing has a client of its own, opened at first use,
    so that a process boots (and answers 503 on submits) while Redis is away.

    Jobs submitted together are enqueued together: those waiting while the previous pipeline
    was out share one (streaq's ``enqueue_many``: its ``publish_task`` per job). The socket
    writes were already shared by coredis; what a burst paid for was the client's own work
    per call (a pooled connection under a deadline, a request, its response), now once per
    batch. Alone, a job is sent at once."""

    def __init__(self, name: str, settings: Settings, concurrency: int | None = None) -> None:
        self.name = name
        self.settings = settings
        self.concurrency = min(concurrency or settings.jobs_concurrency, settings.jobs_concurrency)
        self.stopping = asyncio.Event()
        self._options: dict[str, Any] = {
            "redis_url": settings.redis_url or "",
            "queue_name": QUEUE_PREFIX + name,
            "serializer": _encode,
            "deserializer": msgspec.json.decode,
            "handle_signals": False,
        }
        self._client = Worker[None](**self._options)
        self._opening = asyncio.Lock()
        self._holder: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._tasks: dict[str, AsyncRegisteredTask[[Payload], None]] = {}
        # a loader whose "fetch" publishes: it coalesces calls the same way for writes
        self._enqueues = BatchLoader[JobTask, None](self._publish, max_batch=MAX_ENQUEUE_BATCH)
        self._jobs: list[tuple[dict[str, Any], Callable[[Payload], Awaitable[None]]]] = []
        self._periodics: list[Periodic] = []

    def register(self, spec: JobSpec) -> None:
        limit = self.settings.jobs_max_attempts

        async def run(payload: Payload) -> None:
            context = self._tasks[spec.name].context
            attempt = Attempt(context.task_id, context.tries, limit)
            carrier = payload.pop(TRACE_CONTEXT, None)  # the submitting request's trace
            with tracing.job_span(spec.name, attempt.job_id, carrier, attempt=attempt.number):
                await attempt_once(attempt, payload)

        async def attempt_once(attempt: Attempt, payload: Payload) -> None:
            if attempt.number > limit:  # the last attempt died with its worker
                FAILURES.labels(self.name, "worker_lost").inc()
                JOBS.labels(self.name, "given_up").inc()
                await spec.give_up(attempt, payload)
                return
            try:
                await spec.run(attempt, payload)
            except RetryLater as exc:
                FAILURES.labels(self.name, failure_code(exc.__cause__ or exc)).inc()
                if attempt.last:
                    JOBS.labels(self.name, "given_up").inc()
                    await spec.give_up(attempt, payload)
                    return
                JOBS.labels(self.name, "retried").inc()
                log.info("job_retry", queue=self.name, job_id=attempt.job_id, reason=str(exc))
                raise StreaqRetry(str(exc), delay=timedelta(seconds=exc.delay)) from exc
            except anyio.get_cancelled_exc_class():
                JOBS.labels(self.name, "handed_back").inc()
                raise
            except Exception as exc:
                log.exception("job_failed", queue=self.name, job_id=attempt.job_id)
                FAILURES.labels(self.name, failure_code(exc)).inc()
                JOBS.labels(self.name, "given_up").inc()
                await spec.give_up(attempt, payload)
                return
            JOBS.labels(self.name, "completed").inc()

        # Attempts are counted and limited here (a give-up path needs to run), so the engine
        # retries without limit; its timeout is a backstop behind the job's own.
        options: dict[str, Any] = {
            "name": spec.name,
            "max_tries": None,
            "timeout": timedelta(seconds=spec.timeout + TIMEOUT_MARGIN_SECONDS),
            "retry_timeouts": True,
            "silent": True,
            "ttl": 0,
        }
        self._jobs.append((options, run))
        self._tasks[spec.name] = self._client.task(**options)(run)

    def periodic(self, spec: Periodic) -> None:
        self._periodics.append(spec)

    def runner(self) -> _Worker:
        """A streaq worker for this queue, with every job and periodic registered."""
        worker = _Worker(
            self.stopping,
            **self._options,
            concurrency=self.concurrency,
            idle_timeout=self.settings.jobs_idle_timeout_seconds,
            grace_period=round(self.settings.jobs_drain_seconds),
        )
        for options, run in self._jobs:
            worker.task(**options)(run)
        for spec in self._periodics:
            worker.cron(
                spec.cron,
                name=spec.name,
                timeout=timedelta(seconds=spec.timeout),
                max_tries=None,
                silent=True,
                ttl=0,
            )(_periodic(spec))
        return worker

    async def enqueue(self, job: str, job_id: str, payload: Payload) -> None:
        """Queue ``job`` under ``job_id``; a job with that id already queued or running is
        left as it is (so a retried submit queues nothing twice)."""
        if tracing.enabled():  # the job's run continues the submitting request's trace
            payload = {**payload, TRACE_CONTEXT: tracing.context_carrier()}
        task = self._tasks[job].enqueue(payload)
        task.id = job_id
        try:
            await self._open()
            await self._enqueues.load(task)
        except Exception as exc:
            if not _store_failure(exc):
                raise
            log.warning("job_enqueue_failed", queue=self.name, error=repr(exc))
            raise ServiceUnavailable(code="job_queue_unavailable") from exc

    async def _publish(self, tasks: Sequence[JobTask]) -> Mapping[JobTask, None]:
        """Enqueue ``tasks`` in one pipeline (what awaiting each would send, one by one)."""
        with anyio.fail_after(self.settings.redis_socket_timeout_seconds):
            await self._client.enqueue_many(tasks)
        return {}

    async def _open(self) -> None:
        """Open the enqueue client in a task of its own: coredis wants a connection pool
        entered and left in the same task, and requests come and go."""
        async with self._opening:
            if self._holder is None or self._holder.done():
                opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._closing = asyncio.Event()
                self._holder = asyncio.create_task(self._hold(opened, self._closing))
                await opened

    async def _hold(self, opened: asyncio.Future[None], closing: asyncio.Event) -> None:
        try:
            async with self._client:
                opened.set_result(None)
                await closing.wait()
        except BaseException as exc:
            if not opened.done():
                opened.set_exception(exc)
            else:
                log.warning("job_client_closed", queue=self.name, error=repr(exc))

    async def depth(self) -> int:
        await self._open()
        return await self._client.queue_size()

    async def backlog_age(self) -> float:
        """Seconds since the oldest entry of the stream was queued (entries leave the stream
        when their job ends; an entry id starts with its time in milliseconds)."""
        await self._open()
        entries = await self._client.redis.xrange(stream_key(self.name), count=1)
        if not entries:
            return 0.0
        identifier = entries[0].identifier
        text = identifier.decode() if isinstance(identifier, bytes) else identifier
        return max(0.0, (now_ms() - int(text.split("-")[0])) / 1000)

    async def close(self) -> None:
        if self._holder is not None:
            self._closing.set()
            with contextlib.suppress(Exception):
                await self._holder


class Jobs:
    """Every job queue of a process. Queues are created by the domains that own jobs (at
    their start-up); ``start`` then runs the workers of those queues when this process works
    them, and ``stop`` drains them."""

    def __init__(self, settings: Settings, *, work: bool) -> None:
        self.settings = settings
        self.work = work
        self._queues: dict[str, JobQueue] = {}
        self._running: list[asyncio.Task[None]] = []
        self._depth: asyncio.Task[None] | None = None

    def queue(self, name: str, concurrency: int | None = None) -> JobQueue:
        """The queue ``name`` (created at the first call; ``concurrency`` caps how many of its
        jobs a process runs at once, below ``jobs_concurrency``)."""
        if name not in self._queues:
            self._queues[name] = JobQueue(name, self.settings, concurrency)
        return self._queues[name]

    async def start(self) -> None:
        if not self.work:
            return
        for queue in self._queues.values():
            started = asyncio.Event()
            self._running.append(asyncio.create_task(self._work(queue, started)))
            await started.wait()
        if self._queues:
            self._depth = asyncio.create_task(self._refresh_depth())

    async def _work(self, queue: JobQueue, started: asyncio.Event) -> None:
        """Run the queue's worker until drained; after a failure (Redis away) start a new one."""
        while not queue.stopping.is_set():
            worker = queue.runner()

            async def run(*, task_status: TaskStatus[None], worker: _Worker = worker) -> None:
                await worker.run_async(task_status=task_status)

            try:
                async with anyio.create_task_group() as group:
                    await group.start(run)
                    started.set()
            except Exception as exc:
                log.warning("job_worker_restart", queue=queue.name, error=repr(exc))
            finally:
                started.set()  # a worker that cannot start yet must not hang the start-up
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.stopping.wait(), RESTART_SECONDS)

    async def _refresh_depth(self) -> None:
        while True:
            for queue in self._queues.values():
                with contextlib.suppress(Exception):  # a metric; Redis may be away
                    QUEUE_DEPTH.labels(queue.name).set(await queue.depth())
                    BACKLOG_AGE.labels(queue.name).set(await queue.backlog_age())
            await asyncio.sleep(DEPTH_REFRESH_SECONDS)

    def begin_drain(self) -> None:
        """Stop taking jobs; running ones get ``jobs_drain_seconds``, then go back."""
        for queue in self._queues.values():
            queue.stopping.set()

    async def stop(self) -> None:
        """Drain (see ``begin_drain``) and wait for it."""
        if self._depth is not None:
            self._depth.cancel()
        self.begin_drain()
        if self._running:
            limit = self.settings.jobs_drain_seconds + STOP_MARGIN_SECONDS
            _, pending = await asyncio.wait(self._running, timeout=limit)
            for task in pending:  # not expected: streaq bounds every step of its drain
                log.warning("job_worker_stuck")
                task.cancel()
        for queue in self._queues.values():
            await queue.close()
