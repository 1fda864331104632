"""Coalesced reads: requests that want rows by key at the same time share one query.

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
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

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
