"""Per-user fixed-window rate limits in Redis: shared by every pod, one round trip per check.

Only accepted work counts: a use whose work then fails (a 422 for bad input, a 404, a 503) or
that is refused (429) is given back, so a client fixing its input is not locked out by its
mistakes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from eco2.platform.errors import TooManyRequests


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit`` uses per ``window`` seconds; over it, 429 ``code`` saying ``what`` is limited
    (Korean, with its subject particle: "메시지를 보내는 횟수가")."""

    limit: int
    window: int
    code: str
    what: str


def per_user(
    redis: Redis, scope: str, user_id: str, limit: int, window: int, what: str
) -> AbstractAsyncContextManager[None]:
    """:func:`limited` on the user's own budget for ``scope`` (429 ``<scope>_rate_limited``)."""
    return limited(redis, f"{scope}:{user_id}", Limit(limit, window, f"{scope}_rate_limited", what))


@asynccontextmanager
async def limited(redis: Redis, key: str, rule: Limit) -> AsyncIterator[None]:
    """Count one use of ``key`` for the block; give it back if the block fails."""
    now = int(time.time())
    slot = f"ratelimit:{key}:{now // rule.window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(slot)
        pipe.expire(slot, rule.window + 1)
        count, _ = await pipe.execute()
    if int(count) > rule.limit:
        await redis.decr(slot)
        retry_after = rule.window - now % rule.window
        raise TooManyRequests(
            f"{rule.what} 너무 많아요. {retry_after}초 후에 다시 시도해 주세요.",
            code=rule.code,
            headers={"Retry-After": str(retry_after)},
        )
    try:
        yield
    except BaseException:
        # shielded: a cancelled request still gives its use back
        await asyncio.shield(redis.decr(slot))
        raise
