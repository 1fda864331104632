"""Coalesced reads and grouped writes: concurrent requests share a few queries.

Reads: requests that want rows by key at the same time share one query.

Every page of the web client starts with ``/user/me`` and ``/user/me/characters``; a burst of
them costs one primary-key query per request, and the statement's fixed cost (a pooled
connection, the round trip, the driver) dwarfs the row. A :class:`BatchLoader` gathers the
keys asked for while its previous query is out (and those asked in the same turn of the event
loop) and fetches them with one ``= ANY(:keys)`` query: one request alone still takes one
round trip, a burst shares them.

Nothing is cached: a key joins only a batch that has not been sent yet, so every answer comes
from a query sent after it was asked for, and sees every write committed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import Executable, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]


class BatchLoader(Generic[K, V]):
    """``await loader.load(key)``: the value ``fetch`` found for ``key``, or ``None``.

    ``fetch(keys)`` returns the values it found by key. At most ``in_flight`` fetches run at
    once, each with at most ``max_batch`` keys; a failed fetch fails every load in its batch.
    """

    def __init__(self, fetch: Fetch[K, V], *, max_batch: int = 256, in_flight: int = 2) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._in_flight_limit = in_flight
        self._in_flight = 0
        self._pending: dict[K, list[asyncio.Future[V | None]]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def load(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._scheduled or not self._pending or self._in_flight >= self._in_flight_limit:
            return
        self._scheduled = True
        loop.call_soon(self._send)  # the loop's other ready requests join first

    def _send(self) -> None:
        self._scheduled = False
        if not self._pending or self._in_flight >= self._in_flight_limit:
            return
        keys = list(self._pending)[: self._max_batch]
        batch = {key: self._pending.pop(key) for key in keys}
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except asyncio.CancelledError:
            for _, future in _waiting(batch):
                future.cancel()
            raise
        except Exception as exc:
            for _, future in _waiting(batch):
                future.set_exception(exc)
        else:
            for key, future in _waiting(batch):
                future.set_result(found.get(key))
        finally:
            self._in_flight -= 1
            self._schedule(asyncio.get_running_loop())


def _waiting(
    batch: Mapping[K, list[asyncio.Future[V | None]]],
) -> Iterator[tuple[K, asyncio.Future[V | None]]]:
    """The futures still waiting (one whose request was cancelled is done already)."""
    for key, futures in batch.items():
        for future in futures:
            if not future.done():
                yield key, future


# --- writes ----------------------------------------------------------------------------------

Row = dict[str, Any]
Apply = Callable[[AsyncSession, list[Row]], Awaitable[Sequence[Exception | None]]]
Pending = tuple[Row, asyncio.Future[None]]

MAX_WRITE_BATCH = 500


class BatchWriter:
    """Grouped writes: the rows waiting while the previous batch was out share one transaction.

    Under a burst, a thousand writes become a few dozen transactions on a few pooled connections
    instead of a thousand waiting for one each; alone, a row is written at once. Each caller
    waits until its own row is committed, so a response never promises what is not stored.

    ``apply(session, rows)`` writes a batch and returns, per row, the error that refuses that row
    alone (a 404 for a chat that is not the caller's) or ``None``. A batch the database refuses
    is retried row by row (one bad row must not fail its neighbours); a batch that fails as a
    whole (the store away, no pooled connection in time) fails every write in it. A batch is
    committed without waiting for the disk unless ``durable(rows)`` says it must be.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        apply: Apply,
        *,
        name: str,
        durable: Callable[[list[Row]], bool] = lambda _: True,
    ) -> None:
        self._sessions, self._apply, self._durable, self._name = sessions, apply, durable, name
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        statement: Executable,
        *,
        name: str,
        durable: Callable[[list[Row]], bool] = lambda _: True,
    ) -> BatchWriter:
        """One ``statement`` per batch, run with every waiting row's parameters."""

        async def apply(session: AsyncSession, rows: list[Row]) -> list[Exception | None]:
            await session.execute(statement, rows)
            return [None] * len(rows)

        return cls(sessions, apply, name=name, durable=durable)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def write(self, row: Row) -> None:
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((row, done))
        await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_WRITE_BATCH:
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[Pending]) -> None:
        try:
            outcomes = await self._execute([row for row, _ in batch])
        except Exception as exc:
            refused = isinstance(exc, DBAPIError) and not exc.connection_invalidated
            if refused and len(batch) > 1:
                for pending in batch:
                    await self._flush([pending])
                return
            log.warning("batch_write_failed", writer=self._name, rows=len(batch), error=str(exc))
            outcomes = [exc] * len(batch)
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if done.done():  # its caller was cancelled
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

    async def _execute(self, rows: list[Row]) -> Sequence[Exception | None]:
        async with self._sessions.begin() as session:
            if not self._durable(rows):  # may be lost in a crash's last moments: fine
                await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            return await self._apply(session, rows)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
