"""platform/batching.BatchWriter: a batch that fails as a whole fails every write in it."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine

from eco2.platform.batching import BatchWriter
from eco2.platform.db import async_url, session_factory
from eco2.settings import Settings


async def test_a_failed_batch_fails_every_write_in_it(settings: Settings) -> None:
    """The pool's only connection is taken: the batch cannot start (not a refused row, so not
    retried row by row); each of its writers gets the error instead of waiting for ever."""
    engine = create_async_engine(
        async_url(settings.database_url or ""), pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    writer = BatchWriter.of(session_factory(engine), text("SELECT :n"), name="test")
    try:
        async with engine.connect():  # holds the pool's only connection
            writes = [asyncio.create_task(writer.write({"n": str(n)})) for n in range(3)]
            async with asyncio.timeout(10):
                results = await asyncio.gather(*writes, return_exceptions=True)
        assert [type(r) for r in results] == [PoolTimeout] * 3
        await writer.write({"n": "4"})  # the pool is free again: the writer goes on
    finally:
        await writer.close()
        await engine.dispose()
