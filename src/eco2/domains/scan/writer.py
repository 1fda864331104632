"""Group inserts of finished scans: one multi-row statement for all rows waiting to be written.

Under a burst, a thousand scans finishing together become a few dozen statements instead of a
thousand transactions; alone, a scan is written at once. Each caller still waits until its own
row is committed, so the response never promises a scan that is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

MAX_BATCH = 500

Pending = tuple[dict[str, Any], asyncio.Future[None]]


class BatchWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], table: Table) -> None:
        self._sessions, self._table = sessions, table
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def write(self, row: dict[str, Any]) -> None:
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((row, done))
        await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[Pending]) -> None:
        try:
            async with self._sessions.begin() as session:
                # A scan row may be lost in the last moments before a crash; not worth an
                # fsync wait on every scan (the reward, in character, stays durable).
                await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                await session.execute(insert(self._table), [row for row, _ in batch])
        except Exception as exc:
            log.warning("scan_batch_write_failed", rows=len(batch), error=str(exc))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
