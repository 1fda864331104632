"""A job's events in Redis, streamed over SSE by any pod and resumable with ``Last-Event-ID``.

A job of kind ``k`` (``scan``, ``chat``) has a list ``k:events:<job_id>`` (one entry per
event: ``[seq, name, data]``, ``seq`` = position from 1) and a record ``k:job:<job_id>``
(owner, stream deadline, the attempt that may write, the events already logged). Both
expire after the kind's TTL.

**One ordered set of events, whatever the retries.** A job runs at least once, so the same
event may be emitted by several attempts. Each write (one event or a batch of them) is one Lua
call that appends an event only if

* the writer's attempt is the newest (an attempt that lost its claim, still running
  somewhere, is fenced off),
* the event's key (e.g. ``vision:completed``) is not logged yet, and
* the log is as long as the writer expects (the ``seq`` inside the payload stays exact),

so a retried job re-emits its steps and the client sees each once, in order. Nothing is
written after the terminal event.

**Streams end and cost nothing while they wait.** Appending publishes the entries themselves
(a JSON array, one message per write) on ``k:notify:<job_id>``; each process keeps one pattern
subscription per kind and hands the entries to its waiting streams (no per-stream polling, no
read per event), which send each batch as one chunk of SSE blocks they encode themselves. A
stream for a finished job sends the terminal event and closes; every stream has a deadline; a
user holds at most ``stream_max_per_user`` open streams (429 past it).

**Opening a stream is one Redis call** (and no PostgreSQL one): a Lua script checks the job's
owner in its record, takes one of the user's stream slots and reads what the stream sends
first. Under a burst of opens the pooled connections are what is scarce; a stream holds none
while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
import structlog
from litestar import Request
from litestar.response import ServerSentEvent, Stream
from redis.asyncio import Redis
from redis.exceptions import RedisError

from eco2.platform.errors import AppError, ServiceUnavailable, TooManyRequests
from eco2.platform.security import StreamPath, TokenCodec, with_ticket
from eco2.platform.shutdown import Stopping

log = structlog.get_logger(__name__)

LISTEN_SECONDS = 0.5  # the listener's longest wait before it looks at its closing flag
RECONNECT_SECONDS = 1.0
CLOSING = "~closing"  # a notification no job has: it only wakes listeners
SSE_RETRY_MS = 2000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_SLOT_MARGIN_SECONDS = 60
MAX_BATCH = 256  # events per Lua call
WRITE_RETRY_SECONDS = (0.1, 0.5, 2.0)  # waits before writing again after a Redis error

ScriptArg = str | int | float | bytes
Payload = Callable[[int], Any]
"""Builds an event's JSON payload from its ``seq`` (payloads that carry their own seq)."""


class JobEvent(msgspec.Struct, array_like=True):
    """One logged event; ``data`` is the payload's JSON, sent to clients as is."""

    seq: int
    name: str
    data: msgspec.Raw


_decode_event = msgspec.json.Decoder(JobEvent).decode
_decode_events = msgspec.json.Decoder(list[JobEvent]).decode


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to log: ``key`` logs it once per job, ``note`` names a record field set to the
    writing attempt (read back by later attempts in ``EventWriter.state``)."""

    name: str
    payload: Payload | Any
    key: str | None = None
    note: str = ""


# KEYS: events, record. ARGV: owner, deadline, ttl, first entry, first key, channel.
_CREATE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'owner', ARGV[1], 'deadline', ARGV[2], 'attempt', 0)
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('RPUSH', KEYS[1], ARGV[4])
  redis.call('HSET', KEYS[2], 'm:' .. ARGV[5], 1)
  redis.call('PUBLISH', ARGV[6], '[' .. ARGV[4] .. ']')
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# KEYS: events, record. ARGV: attempt. Returns {length, is newest, record fields...}.
_BEGIN = """
local current = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '0')
local attempt = tonumber(ARGV[1])
if attempt > current then redis.call('HSET', KEYS[2], 'attempt', attempt) end
local state = redis.call('HGETALL', KEYS[2])
table.insert(state, 1, attempt >= current and 1 or 0)
table.insert(state, 1, redis.call('LLEN', KEYS[1]))
return state
"""

# KEYS: events, record. ARGV: attempt, length the writer expects, channel, ttl, then four per
# event: key ('' = none), terminal ('1'/'0'), note ('' = none: else the record field that
# remembers this attempt wrote such an event), entry (its seq = its position in the log).
# Appends the events in order and publishes them as one JSON array. Returns {status, appended,
# length}: 1 all appended; 0 the next event's key is logged already (the rest not written: their
# seqs move); -1 fenced off; -2 the length moved; -3 the job has ended.
_EMIT = """
if tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[2], 'attempt') or '0') then
  return {-1, 0, 0}
end
local length = redis.call('LLEN', KEYS[1])
if length ~= tonumber(ARGV[2]) then return {-2, 0, length} end
local entries = {}
local status = 1
for i = 5, #ARGV, 4 do
  if redis.call('HEXISTS', KEYS[2], 'done') == 1 then status = -3; break end
  local key = ARGV[i]
  if key ~= '' and redis.call('HEXISTS', KEYS[2], 'm:' .. key) == 1 then status = 0; break end
  length = length + 1
  entries[#entries + 1] = ARGV[i + 3]
  if key ~= '' then redis.call('HSET', KEYS[2], 'm:' .. key, length) end
  if ARGV[i + 1] == '1' then redis.call('HSET', KEYS[2], 'done', length) end
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[2], ARGV[i + 2], ARGV[1]) end
end
if #entries > 0 then
  redis.call('RPUSH', KEYS[1], unpack(entries))
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  redis.call('PUBLISH', ARGV[3], '[' .. table.concat(entries, ',') .. ']')
end
return {status, #entries, length}
"""

# KEYS: events, record, the user's open streams (zset: token → expiry). ARGV: user, since,
# now, slot margin, token, limit. Returns {0} when the job is not the user's (or is gone), {-1}
# when the user holds ``limit`` streams, else {1, deadline, seq of the terminal event ('' while
# the job runs), entries...}: a finished job's terminal entry, else the entries after since.
_OPEN_STREAM = """
local record = redis.call('HMGET', KEYS[2], 'owner', 'deadline', 'done')
if record[1] ~= ARGV[1] then return {0} end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {-1} end
local expiry = tonumber(record[2]) + tonumber(ARGV[4])
redis.call('ZADD', KEYS[3], tostring(expiry), ARGV[5])
redis.call('EXPIREAT', KEYS[3], math.ceil(expiry))
if record[3] then
  return {1, record[2], record[3], redis.call('LINDEX', KEYS[1], tonumber(record[3]) - 1)}
end
local reply = {1, record[2], ''}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], ARGV[2], -1)) do
  reply[#reply + 1] = entry
end
return reply
"""


class StaleAttempt(Exception):
    """A newer attempt of the job owns its events: this one must stop."""


@dataclass(frozen=True, slots=True)
class JobRecord:
    owner: str
    deadline: float
    done: int | None  # seq of the terminal event, once the job has ended


class _Keys:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def events(self, job_id: str) -> str:
        return f"{self.kind}:events:{job_id}"

    def record(self, job_id: str) -> str:
        return f"{self.kind}:job:{job_id}"

    def notify(self, job_id: str = "") -> str:
        return f"{self.kind}:notify:{job_id}"


def _entry(seq: int, name: str, payload: Payload | Any) -> bytes:
    body = payload(seq) if callable(payload) else payload
    return msgspec.json.encode(JobEvent(seq, name, msgspec.Raw(msgspec.json.encode(body))))


class EventLog:
    """The event logs of one kind of job."""

    def __init__(
        self, redis: Redis, kind: str, *, ttl: int, terminal: Collection[str] = ("done",)
    ) -> None:
        self.redis, self.kind, self.ttl = redis, kind, ttl
        self.keys = _Keys(kind)
        self.terminal = frozenset(terminal)
        self._create = redis.register_script(_CREATE)
        self._begin = redis.register_script(_BEGIN)
        self._emit = redis.register_script(_EMIT)

    async def create(
        self, job_id: str, owner: str, deadline: float, first: tuple[str, str, Payload | Any]
    ) -> bool:
        """The job's record and its first event (name, key, payload), unless it exists."""
        name, key, payload = first
        keys = [self.keys.events(job_id), self.keys.record(job_id)]
        entry = _entry(1, name, payload)
        args: list[ScriptArg] = [owner, deadline, self.ttl, entry, key, self.keys.notify(job_id)]
        return bool(await self._create(keys=keys, args=args))

    async def record(self, job_id: str) -> JobRecord | None:
        owner, deadline, done = await self.redis.hmget(
            self.keys.record(job_id), ["owner", "deadline", "done"]
        )
        if owner is None:
            return None
        return JobRecord(
            owner=owner.decode() if isinstance(owner, bytes) else owner,
            deadline=float(deadline or 0),
            done=int(done) if done is not None else None,
        )

    async def writer(self, job_id: str, attempt: int) -> EventWriter:
        """The events of one attempt of the job (fenced: a newer attempt stops it)."""
        keys = [self.keys.events(job_id), self.keys.record(job_id)]
        length, newest, *fields = await self._begin(keys=keys, args=[attempt])
        if not newest:
            raise StaleAttempt(job_id)
        state = {k.decode(): v.decode() for k, v in zip(fields[::2], fields[1::2], strict=True)}
        return EventWriter(self, job_id, attempt, int(length), state)

    async def read_after(self, job_id: str, seq: int) -> list[JobEvent]:
        raw = await self.redis.lrange(self.keys.events(job_id), seq, -1)
        return [_decode_event(r) for r in raw]


class EventNotLogged(RedisError):
    """A job's terminal event could not be logged: the attempt fails, and the job's retry (or
    its give-up) ends the stream."""


class EventWriter:
    """Appends one attempt's events. A Redis error is retried a few times; after that a
    terminal event fails the attempt (:class:`EventNotLogged`), any other is lost."""

    def __init__(
        self, log: EventLog, job_id: str, attempt: int, length: int, state: dict[str, str]
    ) -> None:
        self._log, self.job_id, self.attempt = log, job_id, attempt
        self._length: int | None = length
        self.state = state  # the record as the attempt began (``m:<key>`` = logged events)

    @property
    def ended(self) -> bool:
        return "done" in self.state

    def logged(self, key: str) -> bool:
        """Whether an earlier attempt already logged the event ``key``."""
        return f"m:{key}" in self.state

    async def emit(
        self, name: str, payload: Payload | Any, *, key: str | None = None, note: str = ""
    ) -> int | None:
        """Log one event (once per ``key``, when given); its ``seq``, or None if not logged.
        ``note`` names a record field set to this attempt (``state`` of later attempts)."""
        return (await self.emit_many([NewEvent(name, payload, key, note)]))[0]

    async def emit_many(self, events: Sequence[NewEvent]) -> list[int | None]:
        """Log events in order with one Lua call (a few when some are logged already); the
        ``seq`` of each, None for one not logged."""
        log_ = self._log
        keys = [log_.keys.events(self.job_id), log_.keys.record(self.job_id)]
        seqs: list[int | None] = []
        rest = list(events)
        moved = failures = 0
        unsure: tuple[int, list[bytes]] | None = None  # a write whose outcome is unknown
        while rest and moved < 3:
            try:
                if self._length is None:
                    self._length = int(await log_.redis.llen(keys[0]))
                    if unsure is not None:  # a write that failed may have gone in all the same
                        landed = await self._landed(keys[0], *unsure)
                        rest = self._logged(rest, unsure[0], landed, seqs)
                        unsure = None
                        continue
                start = self._length
                batch = rest[:MAX_BATCH]
                entries = [_entry(n, e.name, e.payload) for n, e in enumerate(batch, start + 1)]
                args: list[ScriptArg] = [
                    self.attempt,
                    start,
                    log_.keys.notify(self.job_id),
                    log_.ttl,
                ]
                for event, entry in zip(batch, entries, strict=True):
                    terminal = "1" if event.name in log_.terminal else "0"
                    args += [event.key or "", terminal, event.note, entry]
                unsure = (start, entries)
                status, appended, length = await log_._emit(keys=keys, args=args)
                unsure = None
            except RedisError as exc:
                self._length = None
                failures += 1
                if failures > len(WRITE_RETRY_SECONDS):
                    self._lose(rest, exc)
                    break
                await asyncio.sleep(WRITE_RETRY_SECONDS[failures - 1])
                continue
            self._length = int(length)
            rest = self._logged(rest, start, int(appended), seqs)
            if status == 0:  # already logged by an earlier attempt
                seqs.append(None)
                rest = rest[1:]
            elif status == -2:  # another writer appended meanwhile: retry at the new length
                moved += 1
            elif status == -1:
                raise StaleAttempt(self.job_id)
            elif status == -3:  # the job has ended
                break
        return seqs + [None] * (len(events) - len(seqs))

    async def _landed(self, key: str, start: int, entries: list[bytes]) -> int:
        """How many of ``entries``, written at ``start``, are in the log (a Lua call appends
        a prefix of its batch; only this attempt may append)."""
        stored = await self._log.redis.lrange(key, start, start + len(entries) - 1)
        landed = 0
        for sent, found in zip(entries, stored, strict=False):
            if sent != found:
                break
            landed += 1
        return landed

    def _logged(
        self, rest: list[NewEvent], start: int, appended: int, seqs: list[int | None]
    ) -> list[NewEvent]:
        """Record the first ``appended`` events of ``rest`` as logged from ``start + 1``."""
        for seq, event in enumerate(rest[:appended], start + 1):
            seqs.append(seq)
            if event.name in self._log.terminal:
                self.state["done"] = str(seq)
            if event.note:
                self.state[event.note] = str(self.attempt)
        return rest[appended:]

    def _lose(self, rest: list[NewEvent], exc: RedisError) -> None:
        if any(event.name in self._log.terminal for event in rest):
            raise EventNotLogged(f"the end of job {self.job_id} was not logged") from exc
        log.warning(
            "job_event_lost",
            kind=self._log.kind,
            job_id=self.job_id,
            events=len(rest),
            error=str(exc),
        )


# --- reading: one subscription per process and kind -----------------------------------------


@dataclass(eq=False)
class _Waiter:
    """One open stream's inbox: entries pushed by the hub, or a request to re-read."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    inbox: deque[JobEvent] = field(default_factory=deque)
    reread: bool = False


class EventHub:
    """One pattern subscription per process and kind, handing each published entry to the
    streams of its job in this process."""

    def __init__(self, log: EventLog, stopping: Stopping | None = None) -> None:
        self.log = log
        # Weak: a stream whose response never started (its client left first) leaves nothing.
        self._waiters: defaultdict[str, weakref.WeakSet[_Waiter]] = defaultdict(weakref.WeakSet)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ending = False  # the process is stopping: streams end, the listener stays
        if stopping is not None:
            stopping.on_stop(self.end_streams)

    @property
    def closed(self) -> bool:
        return self._closing or self._ending

    def end_streams(self) -> None:
        """End this process's streams (their clients resume elsewhere with ``Last-Event-ID``)."""
        self._ending = True
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.wake.set()

    def listen(self) -> None:
        """Subscribe now (idempotent; a stream's ``watch`` does too). Subscribing at start
        spares the first burst of streams a re-read each: waiters registered before the
        subscription is confirmed must re-read the log, as they may have missed entries."""
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        """Until closed, by a flag: redis-py can swallow a cancellation inside a pub/sub read
        and keep waiting for a message that never comes, so this loop is never cancelled."""
        prefix = self.log.keys.notify()
        while not self._closing:
            try:
                async with self.log.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{prefix}*")
                    while not self._closing:
                        message = await pubsub.get_message(timeout=LISTEN_SECONDS)
                        kind = message.get("type") if message else None
                        if kind == "pmessage":
                            self._deliver(message["channel"], message["data"], len(prefix))
                        elif kind == "psubscribe":  # from now on nothing is missed: re-read
                            self._reread_all()  # what was published before
            except Exception as exc:
                if self._closing:
                    return
                log.warning("job_event_hub_reconnect", kind=self.log.kind, error=str(exc))
                await asyncio.sleep(RECONNECT_SECONDS)

    def _deliver(self, channel: bytes | str, data: bytes, skip: int) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        job_id = name[skip:]
        waiters = self._waiters.get(job_id)
        if not waiters:
            if waiters is not None:
                del self._waiters[job_id]
            return
        try:
            events = _decode_events(data)
        except msgspec.DecodeError:  # the closing wake-up, or a format this process cannot read
            if data:  # e.g. one event from a pod of the previous release: the log has it
                for waiter in waiters:
                    waiter.reread = True
                    waiter.wake.set()
            return
        for waiter in waiters:
            waiter.inbox.extend(events)
            waiter.wake.set()

    def _reread_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.reread = True
                waiter.wake.set()

    async def close(self) -> None:
        """Stop listening and end this process's streams."""
        self.end_streams()
        self._closing = True
        if self._task:
            with contextlib.suppress(RedisError, OSError):  # ends the listener's wait now
                await self.log.redis.publish(self.log.keys.notify(CLOSING), b"")
            # Each step of the listener ends within the client's socket timeout (2 s).
            _, pending = await asyncio.wait({self._task}, timeout=LISTEN_SECONDS + 4.0)
            if pending:  # not expected
                log.warning("job_event_hub_listener_stuck", kind=self.log.kind)
                self._task.cancel()

    def watch(self, job_id: str) -> _Waiter:
        """A new stream's inbox for ``job_id``: register it *before* reading the log, so that
        anything appended after the read reaches it."""
        self.listen()
        waiter = _Waiter()
        self._waiters[job_id].add(waiter)
        return waiter

    def unwatch(self, job_id: str, waiter: _Waiter) -> None:
        waiters = self._waiters.get(job_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[job_id]

    async def follow(
        self,
        waiter: _Waiter,
        job_id: str,
        backlog: Backlog,
        since: int | None,
        deadline: float,
        *,
        keepalive: float,
        replay: Replay | None = None,
    ) -> AsyncGenerator[list[JobEvent] | None]:
        """From the ``backlog`` read after ``waiter`` was registered: the events after
        ``since`` (a ``Last-Event-ID``; None: a first connection, whose backlog ``replay`` may
        rewrite) until the terminal one or ``deadline`` (epoch seconds), in batches as they
        were written; ``None`` asks for a keepalive. A finished job gives its terminal event
        only."""
        terminal = self.log.terminal
        after = since or 0
        if backlog.finished:
            if backlog.events:
                yield backlog.events[-1:]
            return
        events = backlog.events
        if replay is not None and since is None:
            events = replay(events)
        batch, ended = _until_terminal(events, terminal)
        if batch:
            after = max(after, max(e.seq for e in batch))
            yield batch
        if ended:
            return
        while not self.closed:
            left = deadline - time.time()
            if left <= 0:
                return
            waiter.wake.clear()
            if not waiter.inbox and not waiter.reread:
                try:
                    await asyncio.wait_for(waiter.wake.wait(), min(keepalive, left))
                except TimeoutError:
                    if time.time() < deadline:
                        yield None
                    continue
            if self.closed:
                return
            events = []
            while waiter.inbox:
                events.append(waiter.inbox.popleft())
            if waiter.reread or (events and events[0].seq > after + 1):
                waiter.reread = False  # missed entries: fill the gap from the log
                events = await self.log.read_after(job_id, after)
            fresh = [e for e in events if e.seq > after]
            batch, ended = _until_terminal(fresh, terminal)
            if batch:
                after = batch[-1].seq
                yield batch
            if ended:
                return


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a stream sends first: a finished job's terminal event, or the events after the
    client's ``Last-Event-ID``."""

    events: list[JobEvent]
    finished: bool = False


def _until_terminal(
    events: list[JobEvent], terminal: Collection[str]
) -> tuple[list[JobEvent], bool]:
    """The events up to the first terminal one, and whether there was one."""
    for n, event in enumerate(events):
        if event.name in terminal:
            return events[: n + 1], True
    return events, False


Replay = Callable[[list[JobEvent]], list[JobEvent]]
"""Rewrites the backlog a subscriber without ``Last-Event-ID`` gets (e.g. tokens → one
``token_recovery``)."""


# --- SSE responses --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How one kind's streams look: keepalives as comments or as named events, and what a
    stream sends when its deadline passes."""

    on_deadline: Callable[[str], tuple[str, Any]]
    keepalive_seconds: float = 15.0
    keepalive_event: str | None = None
    replay: Replay | None = None


class StreamSlots:
    """Each user's open streams, counted across pods: a sorted set of stream tokens scored by
    when each must have ended (a pod that dies leaves no slot taken past that)."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis, self.limit = redis, limit
        self._open = redis.register_script(_OPEN_STREAM)

    @staticmethod
    def key(user_id: str) -> str:
        return f"streams:{user_id}"

    async def take(
        self, log: EventLog, job_id: str, user_id: str, since: int | None
    ) -> _Taken | None:
        """A slot for the user's stream of the job and what the stream sends first, in one
        call; None when the job is not the user's. 429 past the limit, 503 if Redis fails."""
        token = uuid.uuid4().hex
        keys = [log.keys.events(job_id), log.keys.record(job_id), self.key(user_id)]
        args: list[ScriptArg] = [
            user_id,
            since or 0,
            time.time(),
            STREAM_SLOT_MARGIN_SECONDS,
            token,
            self.limit,
        ]
        try:
            status, *reply = await self._open(keys=keys, args=args)
        except RedisError as exc:
            raise ServiceUnavailable(code="event_store_unavailable") from exc
        if status == 0:
            return None
        if status == -1:
            raise TooManyRequests(
                "진행 상황을 보는 창이 너무 많아요. 다른 창을 닫고 다시 시도해 주세요.",
                code="too_many_streams",
                headers={"Retry-After": "5"},
            )
        deadline, done, *entries = reply
        events = [_decode_event(e) for e in entries if e is not None]
        return _Taken(token, float(deadline), Backlog(events, finished=bool(done)))

    async def give_back(self, user_id: str, token: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.zrem(self.key(user_id), token)


@dataclass(frozen=True, slots=True)
class _Taken:
    token: str
    deadline: float
    backlog: Backlog


@dataclass
class JobStream:
    """One client's view of a job, holding one of the user's stream slots (``token``) and an
    inbox at the hub until it ends; :func:`sse` turns it into the HTTP response."""

    hub: EventHub
    slots: StreamSlots
    policy: StreamPolicy
    job_id: str
    user_id: str
    since: int | None
    deadline: float
    token: str
    waiter: _Waiter
    backlog: Backlog

    async def chunks(self) -> AsyncIterator[bytes]:
        """The response body: the retry hint, then one chunk per batch of events (or
        keepalive), ending with the terminal event or, at the deadline, the kind's own."""
        hub, policy = self.hub, self.policy
        try:
            ended = False
            head = b"retry: %d\r\n" % SSE_RETRY_MS  # sent with the first event, as one block
            batches = hub.follow(
                self.waiter,
                self.job_id,
                self.backlog,
                self.since,
                self.deadline,
                keepalive=policy.keepalive_seconds,
                replay=policy.replay,
            )
            async for batch in batches:
                if batch is None:
                    yield head + _keepalive(policy.keepalive_event)
                else:
                    ended = batch[-1].name in hub.log.terminal
                    yield head + b"".join(_block(e.name, e.data, e.seq) for e in batch)
                head = b""
            if not ended and not hub.closed:  # the deadline: say so in the kind's terms
                name, data = policy.on_deadline(self.job_id)
                yield head + _block(name, msgspec.json.encode(data))
        finally:  # also when the client went away and the stream is being cancelled
            hub.unwatch(self.job_id, self.waiter)
            with anyio.CancelScope(shield=True):
                await self.slots.give_back(self.user_id, self.token)


@dataclass
class JobStreams:
    """One kind's streams: who may open one (the job's owner; anyone else gets the kind's
    404, ``missing``), how they look, and their URLs (``path``), which carry a stream ticket
    when ``tokens`` can sign one."""

    hub: EventHub
    slots: StreamSlots
    policy: StreamPolicy
    missing: Callable[[], AppError]
    path: StreamPath
    tokens: TokenCodec | None
    lifetime: float  # the longest a job of this kind lasts (``jobs.job_lifetime``)

    async def url(self, job_id: str, user_id: str, deadline: float | None) -> str:
        """The job's ``stream_url``: its path with a ticket that lets the owner (re)connect
        without a fresh access token until the job's ``deadline`` (None: the one in the job's
        record, for a submit replayed by its idempotency key)."""
        path = self.path(self.hub.log.kind, job_id)
        if self.tokens is None:
            return path
        if deadline is None:
            try:
                record = await self.hub.log.record(job_id)
            except RedisError as exc:
                raise ServiceUnavailable(code="event_store_unavailable") from exc
            if record is None:  # long gone: the owner's credentials are the only way in
                return path
            deadline = record.deadline
        ticket = self.tokens.issue_ticket(
            user_id=user_id,
            kind=self.hub.log.kind,
            job_id=job_id,
            issued_at=deadline - self.lifetime,
            expires_at=deadline,
        )
        return with_ticket(path, ticket)

    async def open(self, user_id: str, job_id: str, since: int | None) -> JobStream:
        """The owner's stream of the job (429 before any byte is sent when the user holds too
        many): one Redis call, after the stream's inbox is registered at the hub."""
        waiter = self.hub.watch(job_id)
        try:
            taken = await self.slots.take(self.hub.log, job_id, user_id, since)
            if taken is None:
                raise self.missing()
        except BaseException:
            self.hub.unwatch(job_id, waiter)
            raise
        return JobStream(
            self.hub,
            self.slots,
            self.policy,
            job_id,
            user_id,
            since,
            taken.deadline,
            taken.token,
            waiter,
            taken.backlog,
        )

    def start(self) -> None:
        self.hub.listen()

    async def close(self) -> None:
        await self.hub.close()


class EventStream(ServerSentEvent):
    """A ``text/event-stream`` response of blocks encoded here, a batch of events per chunk:
    the payloads are JSON already (no line breaks), so Litestar's per-message encoder (and
    its thread hop for the retry line) has nothing to add but CPU."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        Stream.__init__(self, chunks, media_type="text/event-stream", headers=SSE_HEADERS)
        self.headers["Connection"] = "keep-alive"


def sse(stream: JobStream) -> ServerSentEvent:
    return EventStream(stream.chunks())


def _block(name: str, data: bytes | msgspec.Raw, seq: int | None = None) -> bytes:
    """One SSE block (``data`` is one line of JSON)."""
    head = b"event: %s\r\n" % name.encode()
    if seq is not None:
        head = b"id: %d\r\n" % seq + head
    return head + b"data: " + bytes(data) + b"\r\n\r\n"


def _keepalive(event: str | None) -> bytes:
    if event is None:  # a comment only: an empty `data:` line would be a message to a client
        return b": keepalive\r\n\r\n"
    return _block(event, b"{}")


def last_event_id(request: Request[Any, Any, Any]) -> int | None:
    """The ``seq`` a reconnecting client already has (``Last-Event-ID`` or ``?last_event_id``);
    None for a first connection."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None:
        return None
    try:
        return min(max(0, int(raw)), 2**31)
    except ValueError:
        return 0
