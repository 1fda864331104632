"""Job event logs in Redis, streamed over SSE by any pod and resumable with ``Last-Event-ID``.

A job of kind ``k`` (``scan``, ``chat``) has a list ``k:events:<job_id>`` (one entry per event:
``[seq, name, payload]``, ``seq`` = position starting at 1) with a TTL, and a record
``k:job:<job_id>`` naming its owner. Appending also publishes on ``k:notify:<job_id>``; each
process keeps one pattern subscription per kind and wakes the streams waiting on that job, so
a thousand open streams cost one Redis connection.

One writer per job (the task running it) appends; readers replay from any ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

import msgspec
import structlog
from litestar import Request
from litestar.response import ServerSentEvent, ServerSentEventMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0  # safety net if a notification is missed
LISTEN_SECONDS = 0.5  # the listener's longest wait before it looks at its closing flag
RECONNECT_SECONDS = 1.0
CLOSING = "~closing"  # a notification no job has: it only wakes listeners
KEEPALIVE_SECONDS = 15.0
SSE_RETRY_MS = 2000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Payload = Callable[[int], Any]
"""Builds an event's JSON payload from its ``seq`` (payloads that carry their own seq)."""


class JobEvent(msgspec.Struct, array_like=True):
    """One logged event; ``data`` is the payload's JSON, sent to clients as is."""

    seq: int
    name: str
    data: msgspec.Raw


class _Keys:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def events(self, job_id: str) -> str:
        return f"{self.kind}:events:{job_id}"

    def owner(self, job_id: str) -> str:
        return f"{self.kind}:job:{job_id}"

    def notify(self, job_id: str = "") -> str:
        return f"{self.kind}:notify:{job_id}"


class EventLog:
    """Append one job's events (best effort: a Redis hiccup must not fail the job).

    The log's only writer counts its events itself, so an event costs one round trip (push,
    refresh the TTL, notify); after a Redis error the count is re-read from the list.
    """

    def __init__(self, redis: Redis, kind: str, job_id: str, ttl: int) -> None:
        self._redis, self._keys, self.job_id, self._ttl = redis, _Keys(kind), job_id, ttl
        self._count: int | None = None  # events in the list; None: unknown, ask Redis

    async def open(self, owner: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.owner(self.job_id), owner, ex=self._ttl)
            pipe.delete(self._keys.events(self.job_id))
            await pipe.execute()
        self._count = 0

    async def emit(self, name: str, payload: Payload | dict[str, Any]) -> int | None:
        """Log one event; returns its ``seq`` (``None`` when Redis lost it)."""
        key = self._keys.events(self.job_id)
        try:
            if self._count is None:
                self._count = int(await self._redis.llen(key))
            seq = self._count + 1
            body = payload(seq) if callable(payload) else payload
            entry = msgspec.json.encode(JobEvent(seq, name, msgspec.Raw(msgspec.json.encode(body))))
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(key, entry)
                pipe.expire(key, self._ttl)
                pipe.publish(self._keys.notify(self.job_id), b"1")
                length, _, _ = await pipe.execute()
            self._count = int(length)
        except RedisError as exc:
            self._count = None
            log.warning("job_event_lost", kind=self._keys.kind, job_id=self.job_id, error=str(exc))
            return None
        return seq


async def job_owner(redis: Redis, kind: str, job_id: str) -> str | None:
    value = await redis.get(_Keys(kind).owner(job_id))
    return value.decode() if isinstance(value, bytes) else value


async def read_after(redis: Redis, kind: str, job_id: str, seq: int) -> list[JobEvent]:
    raw = await redis.lrange(_Keys(kind).events(job_id), seq, -1)
    return [msgspec.json.decode(r, type=JobEvent) for r in raw]


class EventHub:
    """One pattern subscription per process and kind; wakes the local streams of a job."""

    def __init__(
        self,
        redis: Redis,
        kind: str,
        *,
        terminal: Collection[str] = ("done",),
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self._redis, self._keys = redis, _Keys(kind)
        self.kind = kind
        self._terminal = frozenset(terminal)
        self._keepalive = keepalive_seconds
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def closed(self) -> bool:
        return self._closing

    def _ensure_listening(self) -> None:
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        """Until closed, by a flag: redis-py can swallow a cancellation inside a pub/sub read
        and keep waiting for a message that never comes, so this loop is never cancelled."""
        while not self._closing:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{self._keys.notify()}*")
                    while not self._closing:
                        message = await pubsub.get_message(timeout=LISTEN_SECONDS)
                        if message is not None:
                            self._wake(message)
            except Exception as exc:
                if self._closing:
                    return
                log.warning("job_event_hub_reconnect", kind=self.kind, error=str(exc))
                await asyncio.sleep(RECONNECT_SECONDS)

    def _wake(self, message: dict[str, Any]) -> None:
        if message.get("type") != "pmessage":
            return
        channel = message["channel"]
        name = channel.decode() if isinstance(channel, bytes) else channel
        for waiter in self._waiters.get(name[len(self._keys.notify()) :], ()):
            waiter.set()

    async def close(self) -> None:
        self._closing = True
        if self._task:
            with contextlib.suppress(RedisError, OSError):  # ends the listener's wait now
                await self._redis.publish(self._keys.notify(CLOSING), b"")
            # Each step of the listener ends within the client's socket timeout (2 s).
            _, pending = await asyncio.wait({self._task}, timeout=LISTEN_SECONDS + 4.0)
            if pending:  # not expected
                log.warning("job_event_hub_listener_stuck", kind=self.kind)
                self._task.cancel()

    async def owner(self, job_id: str) -> str | None:
        return await job_owner(self._redis, self.kind, job_id)

    async def stream(self, job_id: str, after: int) -> AsyncIterator[JobEvent | None]:
        """Events after ``after`` until a terminal one; ``None`` asks for a keepalive."""
        self._ensure_listening()
        wake = asyncio.Event()
        self._waiters[job_id].add(wake)
        idle = 0.0
        try:
            while True:
                wake.clear()
                events = await read_after(self._redis, self.kind, job_id, after)
                for event in events:
                    after = event.seq
                    yield event
                    if event.name in self._terminal:
                        return
                if events:
                    idle = 0.0
                wait = min(POLL_SECONDS, self._keepalive)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
                idle += wait
                if idle >= self._keepalive:
                    idle = 0.0
                    yield None
        finally:
            self._waiters[job_id].discard(wake)
            if not self._waiters[job_id]:
                self._waiters.pop(job_id, None)

    def sse(
        self, job_id: str, after: int, *, keepalive_event: str | None = None
    ) -> ServerSentEvent:
        """The job as an SSE response; keepalives are comments unless ``keepalive_event``."""

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            async for event in self.stream(job_id, after):
                if event is None:
                    yield _keepalive(keepalive_event)
                    continue
                yield ServerSentEventMessage(
                    data=bytes(event.data).decode(), event=event.name, id=event.seq
                )

        return ServerSentEvent(messages(), retry_duration=SSE_RETRY_MS, headers=SSE_HEADERS)


def _keepalive(event: str | None) -> ServerSentEventMessage:
    if event is None:
        return ServerSentEventMessage(comment="keepalive")
    return ServerSentEventMessage(data="{}", event=event)


def last_event_id(request: Request[Any, Any, Any]) -> int:
    """The ``seq`` a reconnecting client already has (``Last-Event-ID`` or ``?last_event_id``)."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    try:
        return max(0, int(raw)) if raw else 0
    except ValueError:
        return 0
