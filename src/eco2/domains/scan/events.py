"""Scan progress events kept in Redis, so any pod can stream them and clients can resume.

Each job has a list ``scan:events:<job_id>`` (one JSON event per entry, ``seq`` = position,
starting at 1) with a TTL, and a job record ``scan:job:<job_id>`` naming its owner. Appending
also publishes on ``scan:notify:<job_id>``; each process keeps one pattern subscription and
wakes the streams waiting on that job, so a thousand open streams cost one Redis connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from eco2.domains.scan.schemas import ScanEvent, Stage, StageStatus

log = structlog.get_logger(__name__)

EVENTS = "scan:events:"
JOBS = "scan:job:"
NOTIFY = "scan:notify:"
POLL_SECONDS = 1.0  # safety net if a notification is missed
KEEPALIVE_SECONDS = 15.0


def events_key(job_id: str) -> str:
    return f"{EVENTS}{job_id}"


class EventLog:
    """Append and read one job's events."""

    def __init__(self, redis: Redis, job_id: str, ttl: int) -> None:
        self._redis, self.job_id, self._ttl = redis, job_id, ttl

    async def open(self, user_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{JOBS}{self.job_id}", user_id, ex=self._ttl)
            pipe.delete(events_key(self.job_id))
            await pipe.execute()

    async def append(
        self,
        stage: Stage,
        status: StageStatus,
        *,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Best effort: a Redis hiccup must not fail the scan (the result is in PostgreSQL)."""
        key = events_key(self.job_id)
        try:
            seq = await self._redis.llen(key) + 1
            event = ScanEvent(self.job_id, stage, status, seq, time.time(), progress, result)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, msgspec.json.encode(event))
                pipe.expire(key, self._ttl)
                pipe.publish(f"{NOTIFY}{self.job_id}", b"1")
                await pipe.execute()
        except RedisError as exc:
            log.warning("scan_event_lost", job_id=self.job_id, stage=stage, error=str(exc))


async def job_owner(redis: Redis, job_id: str) -> str | None:
    value = await redis.get(f"{JOBS}{job_id}")
    return value.decode() if isinstance(value, bytes) else value


async def read_after(redis: Redis, job_id: str, seq: int) -> list[ScanEvent]:
    raw = await redis.lrange(events_key(job_id), seq, -1)
    return [msgspec.json.decode(r, type=ScanEvent) for r in raw]


class EventHub:
    """One pattern subscription per process; wakes the local streams of a job."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{NOTIFY}*")
                    async for message in pubsub.listen():
                        self._wake(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scan_event_hub_reconnect", error=str(exc))
                await asyncio.sleep(1.0)

    def _wake(self, message: dict[str, Any]) -> None:
        if message.get("type") != "pmessage":
            return
        channel = message["channel"]
        job_id = (channel.decode() if isinstance(channel, bytes) else channel)[len(NOTIFY) :]
        for waiter in self._waiters.get(job_id, ()):
            waiter.set()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stream(self, job_id: str, after: int) -> AsyncIterator[ScanEvent | None]:
        """Events after ``after`` until ``done``; ``None`` asks the caller for a keepalive."""
        self._ensure_listening()
        wake = asyncio.Event()
        self._waiters[job_id].add(wake)
        idle = 0.0
        try:
            while True:
                wake.clear()
                events = await read_after(self._redis, job_id, after)
                for event in events:
                    after = event.seq
                    yield event
                    if event.stage == "done":
                        return
                if events:
                    idle = 0.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
                idle += POLL_SECONDS
                if idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield None
        finally:
            self._waiters[job_id].discard(wake)
            if not self._waiters[job_id]:
                self._waiters.pop(job_id, None)
