"""Fixed-window rate limits in Redis: shared by every pod, one round trip per check."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from eco2.platform.errors import TooManyRequests


async def check(redis: Redis, key: str, *, limit: int, window: int, code: str) -> None:
    """Count one hit for ``key``; over ``limit`` in this window → 429 with ``Retry-After``."""
    now = int(time.time())
    slot = f"ratelimit:{key}:{now // window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(slot)
        pipe.expire(slot, window + 1)
        count, _ = await pipe.execute()
    if int(count) > limit:
        retry_after = window - now % window
        raise TooManyRequests(
            f"메시지를 너무 자주 보냈어요. {retry_after}초 후에 다시 시도해 주세요.",
            code=code,
            headers={"Retry-After": str(retry_after)},
        )
