"""Per-user rate limits in Redis: shared by every pod, one round trip per check.

Each budget is a sliding log: a sorted set of the uses of the last ``window`` seconds, timed by
Redis's own clock so pods with drifting clocks share one budget. No ``window`` seconds ever hold
more than ``limit`` uses; a fixed window would let twice the limit through around its end.

Only accepted work counts: a use whose work then fails (a 422 for bad input, a 404, a 503) or
that is refused (429) is given back, so a client fixing its input is not locked out by its
mistakes.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from eco2.platform.errors import TooManyRequests

# KEYS[1]: the log; ARGV: limit, window (ms), this use's member. Returns 0 when the use is
# logged, else the ms until the oldest logged use leaves the window.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


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
    log, use = f"ratelimit:{key}", secrets.token_hex(8)
    wait_ms = int(await redis.eval(_TAKE, 1, log, rule.limit, rule.window * 1000, use))
    if wait_ms > 0:
        retry_after = math.ceil(wait_ms / 1000)
        raise TooManyRequests(
            f"{rule.what} 너무 많아요. {retry_after}초 후에 다시 시도해 주세요.",
            code=rule.code,
            headers={"Retry-After": str(retry_after)},
        )
    try:
        yield
    except BaseException:
        # shielded: a cancelled request still gives its use back
        await asyncio.shield(redis.zrem(log, use))
        raise
