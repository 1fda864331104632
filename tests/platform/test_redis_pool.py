"""The Redis pool under a burst: callers waiting for a connection are served in arrival order
within the pool's deadline, and when none comes in time the caller hears so then."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from eco2.platform.cache import FairConnectionPool
from eco2.settings import Settings

TIMEOUT = 1.0


@pytest.fixture
async def redis(base_settings: Settings) -> AsyncIterator[Redis]:
    pool = FairConnectionPool.from_url(
        base_settings.redis_url or "", max_connections=2, timeout=TIMEOUT
    )
    client = Redis.from_pool(pool)
    yield client
    await client.aclose()


async def test_a_caller_that_gives_a_connection_back_and_asks_again_waits_its_turn(
    redis: Redis,
) -> None:
    """Twelve callers on two connections, each calling back to back for longer than the pool's
    deadline. With redis-py's ``BlockingConnectionPool`` the two holding the connections took
    them straight back after every call (the waiter woken by the release found them gone and
    queued again), and the other ten timed out: 503s under a burst while Redis was idle."""
    waits: list[float] = []

    async def caller(n: int) -> None:
        until = time.monotonic() + 1.5 * TIMEOUT
        while time.monotonic() < until:
            asked = time.monotonic()
            await redis.set(f"pool-test:{n}", n)
            waits.append(time.monotonic() - asked)

    await asyncio.gather(*(caller(n) for n in range(12)))
    assert max(waits) < TIMEOUT / 2


async def test_a_caller_that_gets_no_connection_in_time_hears_so_then(redis: Redis) -> None:
    pool = redis.connection_pool
    assert isinstance(pool, FairConnectionPool)
    held = [await pool.get_connection(), await pool.get_connection()]
    asked = time.monotonic()
    with pytest.raises(RedisConnectionError, match="No connection available"):
        await redis.ping()
    assert TIMEOUT <= time.monotonic() - asked < TIMEOUT + 0.5
    await pool.release(held.pop())
    assert await redis.ping()  # a given-back connection serves the next caller at once
    await pool.release(held.pop())
