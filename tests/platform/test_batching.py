"""Coalesced reads (platform/batching.BatchLoader) and reads outside transactions
(platform/db.Statements): a burst shares queries, nothing is served from an earlier query, a dropped
connection is read again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from eco2.platform.batching import BatchLoader
from eco2.platform.db import Statements, async_url, create_engine
from eco2.settings import Settings


class Table:
    """A key-value store read through ``fetch``, which records every batch it is sent."""

    def __init__(self, rows: dict[int, str], delay: float = 0.01) -> None:
        self.rows = rows
        self.delay = delay
        self.batches: list[list[int]] = []
        self.failure: Exception | None = None
        self.sent = asyncio.Event()

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, str]:
        self.batches.append(list(keys))
        self.sent.set()
        snapshot = {k: self.rows[k] for k in keys if k in self.rows}  # read when sent
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        return snapshot


async def test_a_burst_shares_queries_and_each_gets_its_own_row() -> None:
    table = Table({n: f"user {n}" for n in range(100)})
    loader = BatchLoader(table.fetch, in_flight=2)

    found = await asyncio.gather(*(loader.load(n % 120) for n in range(300)))

    assert found == [f"user {n % 120}" if n % 120 < 100 else None for n in range(300)]
    assert len(table.batches) <= 3  # the first alone at most, then the rest together
    assert sorted(k for batch in table.batches for k in batch) == list(range(120))


async def test_batches_respect_their_size_and_the_queries_in_flight() -> None:
    table = Table({n: str(n) for n in range(50)})
    running = 0
    most = 0

    async def fetch(keys: Sequence[int]) -> Mapping[int, str]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await table.fetch(keys)
        finally:
            running -= 1

    loader = BatchLoader(fetch, max_batch=10, in_flight=1)
    found = await asyncio.gather(*(loader.load(n) for n in range(50)))

    assert found == [str(n) for n in range(50)]
    assert most == 1
    assert all(len(batch) <= 10 for batch in table.batches)


async def test_nothing_is_served_from_an_earlier_query() -> None:
    table = Table({1: "before"})
    loader = BatchLoader(table.fetch)
    first = asyncio.ensure_future(loader.load(1))
    await table.sent.wait()  # its query is out
    table.rows[1] = "after"  # a write committed while that query is out

    second = await loader.load(1)

    assert await first == "before"
    assert second == "after"  # asked after the write: a query sent after it
    assert await loader.load(1) == "after"
    assert len(table.batches) == 3


async def test_a_failed_query_fails_its_batch_only() -> None:
    table = Table({1: "one", 2: "two"})
    loader = BatchLoader(table.fetch)
    table.failure = ConnectionError("the database went away")

    results = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)

    assert all(isinstance(r, ConnectionError) for r in results)
    table.failure = None
    assert await asyncio.gather(loader.load(1), loader.load(2)) == ["one", "two"]


async def test_a_cancelled_load_leaves_the_others_their_answer() -> None:
    table = Table({1: "one", 2: "two"}, delay=0.05)
    loader = BatchLoader(table.fetch)
    cancelled = asyncio.ensure_future(loader.load(1))
    kept = asyncio.ensure_future(loader.load(2))
    await asyncio.sleep(0.01)
    cancelled.cancel()

    assert await kept == "two"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_reads_survive_connections_the_server_dropped(settings: Settings) -> None:
    engine = create_engine(settings)
    statements = Statements(engine)
    try:
        assert (await statements.read(text("SELECT 1 AS one")))[0].one == 1
        async with create_async_engine(
            async_url(settings.database_url or ""), poolclass=NullPool
        ).connect() as admin:
            dropped = await admin.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            await admin.rollback()
        assert (dropped or 0) >= 1  # the pooled connection the first read used
        # the pooled connection is dead but was not idle long enough to be pinged: the read
        # fails on it and is run again on a fresh one
        assert (await statements.read(text("SELECT 2 AS two")))[0].two == 2
    finally:
        await engine.dispose()
