"""The job engines we considered, side by side, on the same Redis (Valkey) and PostgreSQL.

    pip install saq streaq taskiq-redis 'procrastinate[psycopg]'   # in a scratch venv
    PYTHONPATH=src python bench/bench_job_engines.py [--engine streaq ...] [--jobs 1000]
        [--phase overhead --phase sigkill --phase sigterm] [--recovery-limit 300]

Not part of the app's dependencies: it is the evidence behind ``docs/decisions/`` (the choice
of the job engine). For each engine a worker process (this file with ``--worker``) runs alone
on CPU 0 with room for every job at once; the embedded Valkey and PostgreSQL, and this
process (the producer), share CPU 1. Every job records when it started (an ``RPUSH``) and
sleeps ``--job-seconds``. Three phases:

1. **Overhead**: ``--jobs`` jobs enqueued at once. Enqueue → start latency (p50/p99) and the
   CPU per job of the worker, of the stores and of the producer. The jobs' own work (two
   ``RPUSH`` and a sleep) is the same for every engine.
2. **SIGKILL**: 100 jobs in flight, the worker killed with SIGKILL, a new worker started on
   the same stores: how long until every job has finished, how many ran twice, how many were
   lost (not finished within ``--recovery-limit`` seconds).
3. **SIGTERM**: 200 jobs, a worker that runs 100 at a time, SIGTERM once 100 have started:
   which in-flight jobs finished inside the grace period, and (after a new worker) whether
   every job finished exactly once.

Each engine is configured as production would need it with a 60 s job timeout, so that a
dead worker is noticed as early as the engine allows: saq with a 5 s heartbeat (the job
touches itself every 2 s) and a sweep every 2 s (``saq-defaults``: saq as it comes, a sweep a
minute and a job stuck once past its timeout); streaq with a 5 s idle timeout (renewed by
the worker while a task runs); taskiq's stream broker with an idle timeout above the job
timeout (it does not renew a running message's claim); procrastinate with worker heartbeats
and a periodic task that retries the stalled jobs of dead workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from redis.asyncio import BlockingConnectionPool, Redis

from _support import cpu_reference, cpu_seconds, percentile
from eco2.platform.embedded import embedded_services

WORKER_CPU, OTHER_CPU = {0}, {1}
ENGINES = ("saq", "saq-defaults", "streaq", "eco2", "taskiq", "procrastinate")
JOB_TIMEOUT = 60
GRACE_SECONDS = 10
PHASES = ("overhead", "sigkill", "sigterm")
STARTED, DONE = "bench:started", "bench:done"


# --- the job, the same for every engine -----------------------------------------------------


class Recorder:
    """What a job does: note its start (and the enqueue → start delay), sleep, note its end."""

    def __init__(self, redis_url: str) -> None:
        # a thousand jobs at once wait their turn for a connection (redis-py 8's pool refuses
        # past its limit, which failed the jobs and timed the worker's error logging instead)
        pool = BlockingConnectionPool.from_url(redis_url, max_connections=256, timeout=60)
        self.redis = Redis(connection_pool=pool)

    async def run(self, job_id: str, enqueued_at: float, seconds: float) -> None:
        await self.redis.rpush(STARTED, f"{job_id} {time.time() - enqueued_at:.6f}")
        await asyncio.sleep(seconds)
        await self.redis.rpush(DONE, job_id)


# --- engines: a worker (in the child) and a producer (here) ---------------------------------

Enqueue = Callable[[str, float, float], Awaitable[None]]


@dataclass
class Engine:
    """``worker(concurrency)`` runs until SIGTERM/SIGINT; ``producer()`` opens a client."""

    worker: Callable[[int], Awaitable[None]]
    producer: Callable[[], contextlib.AbstractAsyncContextManager[Enqueue]]


def saq_engine(redis_url: str, database_url: str, queue: str, *, heartbeat: bool = True) -> Engine:
    """``heartbeat``: jobs touch themselves every 2 s and a sweep every 2 s finds the ones
    that stopped (a dead worker noticed in seconds); without it, saq's defaults (a sweep a
    minute, a job is stuck once past its timeout)."""
    from saq import Queue, Worker

    recorder = Recorder(redis_url)

    async def job(ctx: dict[str, Any], *, job_id: str, enqueued_at: float, seconds: float) -> None:
        saq_job = ctx["job"]

        async def beat() -> None:
            while True:
                await asyncio.sleep(2)
                await saq_job.update()

        beating = asyncio.create_task(beat()) if heartbeat else None
        try:
            await recorder.run(job_id, enqueued_at, seconds)
        finally:
            if beating is not None:
                beating.cancel()

    async def worker(concurrency: int) -> None:
        await Worker(
            Queue.from_url(redis_url, name=queue),
            functions=[("job", job)],
            concurrency=concurrency,
            timers={"sweep": 2} if heartbeat else None,
            dequeue_timeout=1,
            shutdown_grace_period_s=GRACE_SECONDS,
        ).start()

    @contextlib.asynccontextmanager
    async def producer() -> Any:
        client = Queue.from_url(redis_url, name=queue)

        async def enqueue(job_id: str, enqueued_at: float, seconds: float) -> None:
            await client.enqueue(
                "job",
                key=job_id,
                timeout=JOB_TIMEOUT,
                heartbeat=5 if heartbeat else 0,
                retries=3,
                job_id=job_id,
                enqueued_at=enqueued_at,
                seconds=seconds,
            )

        yield enqueue
        await client.disconnect()

    return Engine(worker, producer)


def streaq_engine(redis_url: str, database_url: str, queue: str) -> Engine:
    """streaq's own worker, as it comes (msgspec JSON instead of pickle)."""
    import msgspec
    from streaq import Worker

    recorder = Recorder(redis_url)

    def make(concurrency: int = 1, handle_signals: bool = True) -> tuple[Worker[Any], Any]:
        streaq = Worker(
            redis_url=redis_url,
            queue_name=queue,
            concurrency=concurrency,
            idle_timeout=5,
            grace_period=GRACE_SECONDS,
            serializer=msgspec.json.Encoder(enc_hook=repr).encode,
            deserializer=msgspec.json.decode,
            handle_signals=handle_signals,
        )

        @streaq.task(timeout=JOB_TIMEOUT, max_tries=3)
        async def job(job_id: str, enqueued_at: float, seconds: float) -> None:
            await recorder.run(job_id, enqueued_at, seconds)

        return streaq, job

    async def worker(concurrency: int) -> None:
        streaq, _ = make(concurrency)
        await streaq.run_async()

    @contextlib.asynccontextmanager
    async def producer() -> Any:
        streaq, job = make(handle_signals=False)
        async with streaq:

            async def enqueue(job_id: str, enqueued_at: float, seconds: float) -> None:
                task = job.enqueue(job_id, enqueued_at, seconds)
                task.id = job_id
                await task

            yield enqueue

    return Engine(worker, producer)


def taskiq_engine(redis_url: str, database_url: str, queue: str) -> Engine:
    from taskiq.api import run_receiver_task
    from taskiq_redis import RedisStreamBroker

    recorder = Recorder(redis_url)
    broker = RedisStreamBroker(
        redis_url, queue_name=queue, idle_timeout=(JOB_TIMEOUT + 10) * 1000, xread_block=1000
    )

    @broker.task(task_name="job")
    async def job(job_id: str, enqueued_at: float, seconds: float) -> None:
        await recorder.run(job_id, enqueued_at, seconds)

    async def worker(concurrency: int) -> None:
        broker.is_worker_process = True
        await broker.startup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        receiving = asyncio.create_task(
            run_receiver_task(broker, max_async_tasks=concurrency, max_prefetch=concurrency)
        )
        await stop.wait()
        receiving.cancel()  # taskiq's receiver has no grace period of its own here
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        await broker.shutdown()

    @contextlib.asynccontextmanager
    async def producer() -> Any:
        await broker.startup()

        async def enqueue(job_id: str, enqueued_at: float, seconds: float) -> None:
            await job.kiq(job_id, enqueued_at, seconds)

        yield enqueue
        await broker.shutdown()

    return Engine(worker, producer)


def procrastinate_engine(redis_url: str, database_url: str, queue: str) -> Engine:
    import procrastinate

    recorder = Recorder(redis_url)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))

    @app.task(name="job", retry=3, queue=queue)
    async def job(job_id: str, enqueued_at: float, seconds: float) -> None:
        await recorder.run(job_id, enqueued_at, seconds)

    @app.periodic(cron="*/2 * * * * *")  # every 2 s (seconds field)
    @app.task(
        name="retry_stalled", queue="periodic", queueing_lock="retry_stalled", pass_context=True
    )
    async def retry_stalled(context: Any, timestamp: int) -> None:
        for stalled in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=5):
            await app.job_manager.retry_job(stalled)

    async def worker(concurrency: int) -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=[queue, "periodic"],
                concurrency=concurrency,
                shutdown_graceful_timeout=GRACE_SECONDS,
                update_heartbeat_interval=1,
                stalled_worker_timeout=5,
                install_signal_handlers=True,
            )

    @contextlib.asynccontextmanager
    async def producer() -> Any:
        async with app.open_async():
            with contextlib.suppress(Exception):  # already applied
                await app.schema_manager.apply_schema_async()

            async def enqueue(job_id: str, enqueued_at: float, seconds: float) -> None:
                await job.configure(queue=queue).defer_async(
                    job_id=job_id, enqueued_at=enqueued_at, seconds=seconds
                )

            yield enqueue

    return Engine(worker, producer)


def eco2_engine(redis_url: str, database_url: str, queue: str) -> Engine:
    """streaq as eco2 runs it (``eco2.platform.jobs``): claims renewed three times per idle
    timeout, attempts limited by us, a drain started by the process."""
    from eco2.platform.jobs import Attempt, Jobs, JobSpec
    from eco2.settings import Settings

    recorder = Recorder(redis_url)

    async def run(attempt: Attempt, payload: dict[str, Any]) -> None:
        await recorder.run(payload["job_id"], payload["enqueued_at"], payload["seconds"])

    spec = JobSpec("job", run, run, timeout=JOB_TIMEOUT)

    def jobs(concurrency: int, work: bool) -> Any:
        settings = Settings(
            env="local",
            redis_url=redis_url,
            database_url=database_url,
            jobs_concurrency=concurrency,
            jobs_idle_timeout_seconds=5,
            jobs_drain_seconds=GRACE_SECONDS,
        )
        made = Jobs(settings, work=work)
        made.queue(queue).register(spec)
        return made

    async def worker(concurrency: int) -> None:
        running = jobs(concurrency, work=True)
        await running.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()

    @contextlib.asynccontextmanager
    async def producer() -> Any:
        client = jobs(1, work=False)

        async def enqueue(job_id: str, enqueued_at: float, seconds: float) -> None:
            payload = {"job_id": job_id, "enqueued_at": enqueued_at, "seconds": seconds}
            await client.queue(queue).enqueue("job", job_id, payload)

        yield enqueue
        await client.stop()

    return Engine(worker, producer)


FACTORIES = {
    "saq": saq_engine,
    "saq-defaults": functools.partial(saq_engine, heartbeat=False),
    "streaq": streaq_engine,
    "taskiq": taskiq_engine,
    "procrastinate": procrastinate_engine,
    "eco2": eco2_engine,
}


# --- the driver -----------------------------------------------------------------------------


@dataclass
class Stores:
    redis_url: str
    database_url: str
    pids: set[int]


def spawn_worker(
    engine: str, queue: str, stores: Stores, concurrency: int, log: Path
) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--worker", engine, "--concurrency", str(concurrency)]
    args += ["--queue", queue, "--redis-url", stores.redis_url]
    args += ["--database-url", stores.database_url]
    return subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        preexec_fn=lambda: os.sched_setaffinity(0, WORKER_CPU),
    )


async def wait_count(redis: Redis, key: str, n: int, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if await redis.llen(key) >= n:
            break
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def reset(redis: Redis) -> None:
    await redis.delete(STARTED, DONE)


async def enqueue_all(enqueue: Enqueue, n: int, seconds: float) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(n)]
    await asyncio.gather(*(enqueue(i, time.time(), seconds) for i in ids))
    return ids


async def done_counts(redis: Redis) -> dict[str, int]:
    counts: dict[str, int] = {}
    for raw in await redis.lrange(DONE, 0, -1):
        counts[raw.decode()] = counts.get(raw.decode(), 0) + 1
    return counts


def engine_for(name: str, stores: Stores, queue: str) -> Engine:
    return FACTORIES[name](stores.redis_url, stores.database_url, queue)


async def overhead(stores: Stores, name: str, n: int, seconds: float, log: Path) -> None:
    engine = engine_for(name, stores, "bench-overhead")
    redis = Redis.from_url(stores.redis_url)
    await reset(redis)
    worker = spawn_worker(name, "bench-overhead", stores, n, log)
    try:
        async with engine.producer() as enqueue:
            await enqueue_all(enqueue, 20, 0)  # warm up both sides
            await wait_count(redis, DONE, 20, 60)
            await reset(redis)
            await asyncio.sleep(1)
            before = (
                cpu_seconds(worker.pid),
                sum(map(cpu_seconds, stores.pids)),
                time.process_time(),
            )
            await enqueue_all(enqueue, n, seconds)
            took = await wait_count(redis, DONE, n, seconds + 120)
            after = cpu_seconds(worker.pid), sum(map(cpu_seconds, stores.pids)), time.process_time()
        delays = [float(r.split()[1]) for r in await redis.lrange(STARTED, 0, -1)]
        finished = await redis.llen(DONE)
        worker_ms, stores_ms, producer_ms = (
            1000 * (a - b) / n for a, b in zip(after, before, strict=True)
        )
        p50, p99 = (1000 * percentile(delays, q) for q in (0.5, 0.99))
        print(
            f"  overhead: {finished}/{n} done in {took:.2f} s; "
            f"enqueue → start p50 {p50:.0f} ms, p99 {p99:.0f} ms; CPU per job: "
            f"worker {worker_ms:.2f} ms, stores {stores_ms:.2f} ms, producer {producer_ms:.2f} ms"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(GRACE_SECONDS + 10)
        worker.kill()
        await redis.aclose()


@contextlib.asynccontextmanager
async def interrupted_worker(
    stores: Stores, name: str, queue: str, concurrency: int, log: Path
) -> AsyncIterator[tuple[Engine, Redis, list[subprocess.Popen[bytes]]]]:
    """A worker to interrupt; its successor joins the list; every one is killed on exit."""
    engine = engine_for(name, stores, queue)
    redis = Redis.from_url(stores.redis_url)
    await reset(redis)
    workers = [spawn_worker(name, queue, stores, concurrency, log)]
    try:
        yield engine, redis, workers
    finally:
        for process in workers:
            process.kill()
            process.wait()
        await redis.aclose()


async def lost_and_twice(redis: Redis, ids: list[str]) -> tuple[int, int]:
    counts = await done_counts(redis)
    lost = sum(1 for i in ids if i not in counts)
    return lost, sum(1 for i in ids if counts.get(i, 0) > 1)


async def sigkill(stores: Stores, name: str, log: Path, limit: float) -> None:
    n = 100
    async with interrupted_worker(stores, name, "bench-sigkill", 1000, log) as (
        engine,
        redis,
        workers,
    ):
        async with engine.producer() as enqueue:
            ids = await enqueue_all(enqueue, n, 3.0)
            await wait_count(redis, STARTED, n, 60)
            workers[0].kill()
            workers[0].wait()
            killed = time.monotonic()
            workers.append(spawn_worker(name, "bench-sigkill", stores, 1000, log))
            await wait_count(redis, DONE, n, limit)
            recovered = time.monotonic() - killed
        lost, twice = await lost_and_twice(redis, ids)
        print(
            f"  SIGKILL with {n} in flight: {n - lost}/{n} finished "
            f"{recovered:.1f} s after the kill; lost {lost}, finished twice {twice}"
        )


async def sigterm(stores: Stores, name: str, log: Path, limit: float) -> None:
    n, running = 200, 100
    async with interrupted_worker(stores, name, "bench-sigterm", running, log) as (
        engine,
        redis,
        workers,
    ):
        async with engine.producer() as enqueue:
            ids = await enqueue_all(enqueue, n, 3.0)
            await wait_count(redis, STARTED, running, 60)
            workers[0].send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            workers[0].wait(GRACE_SECONDS + 30)
            drained = time.monotonic() - stopping
            finished_in_grace = await redis.llen(DONE)
            workers.append(spawn_worker(name, "bench-sigterm", stores, running, log))
            await wait_count(redis, DONE, n, limit)
        lost, twice = await lost_and_twice(redis, ids)
        print(
            f"  SIGTERM with {running} running and {n - running} queued: the worker exited "
            f"after {drained:.1f} s having finished {finished_in_grace}; after a new worker: "
            f"lost {lost}, finished twice {twice}"
        )


def run(
    engines: tuple[str, ...], phases: tuple[str, ...], jobs: int, seconds: float, limit: float
) -> None:
    os.sched_setaffinity(0, OTHER_CPU)
    data_dir = Path(tempfile.mkdtemp(prefix="eco2-bench-engines-"))
    with embedded_services(data_dir, postgres=True, valkey=True) as urls:
        address = urls["redis_url"].split("//", 1)[1].rsplit("/", 1)[0]
        marks = (str(data_dir).encode(), address.encode())
        pids = {
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _under(p, marks)
        }
        stores = Stores(urls["redis_url"], urls["database_url"], pids)
        print(f"{jobs} jobs of {seconds} s · worker on CPU 0, stores and producer on CPU 1")
        for name in engines:
            print(f"{name}:")
            log = data_dir / f"{name}.log"
            if "overhead" in phases:
                asyncio.run(overhead(stores, name, jobs, seconds, log))
            if "sigkill" in phases:
                asyncio.run(sigkill(stores, name, log, limit))
            if "sigterm" in phases:
                asyncio.run(sigterm(stores, name, log, limit))
            asyncio.run(_flush(stores.redis_url))
        print(f"machine load average {os.getloadavg()[0]:.1f}; {cpu_reference()}")


def _under(proc: Path, marks: tuple[bytes, ...]) -> bool:
    """Started for this run: its command line names the data dir (PostgreSQL) or the address
    it serves (Valkey rewrites its process title to ``valkey-server host:port``)."""
    with contextlib.suppress(OSError):
        cmdline = (proc / "cmdline").read_bytes()
        return any(mark in cmdline for mark in marks)
    return False


async def _flush(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()


@click.command()
@click.option("--engine", "engines", multiple=True, type=click.Choice(ENGINES))
@click.option("--phase", "phases", multiple=True, type=click.Choice(PHASES))
@click.option("--jobs", default=1000, show_default=True)
@click.option("--job-seconds", default=3.0, show_default=True)
@click.option(
    "--recovery-limit",
    default=300.0,
    show_default=True,
    help="How long the SIGKILL/SIGTERM phases wait for every job (s).",
)
@click.option("--worker", type=click.Choice(ENGINES), hidden=True)
@click.option("--concurrency", default=1000, hidden=True)
@click.option("--queue", default="bench", hidden=True)
@click.option("--redis-url", hidden=True)
@click.option("--database-url", hidden=True)
def main(
    engines: tuple[str, ...],
    phases: tuple[str, ...],
    jobs: int,
    job_seconds: float,
    recovery_limit: float,
    worker: str | None,
    concurrency: int,
    queue: str,
    redis_url: str,
    database_url: str,
) -> None:
    if worker:
        asyncio.run(FACTORIES[worker](redis_url, database_url, queue).worker(concurrency))
        return
    run(engines or ENGINES, phases or PHASES, jobs, job_seconds, recovery_limit)


if __name__ == "__main__":
    main()
