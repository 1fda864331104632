"""Redis (or Valkey) client shared by a process."""

from __future__ import annotations

from typing import Any

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from eco2.settings import Settings

MAX_CONNECTIONS = 256


def _driver_info() -> dict[str, Any]:
    """Given once: left to redis-py ≥ 7, every new connection re-reads the package metadata
    (~5 ms of CPU each, a second per burst of a few hundred connections)."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # older redis-py has no per-connection driver info
        return {}
    return {"driver_info": DriverInfo(lib_version=redis.__version__)}


DRIVER_INFO = _driver_info()


def redis_client(settings: Settings) -> Redis:
    """Deadlines on every wait: a dead or stalled Redis fails a request quickly, never hangs it.

    - connect and socket timeouts (``ECO2_REDIS_*_TIMEOUT_SECONDS``);
    - a blocking pool: under a burst, a request waits (at most ``ECO2_REDIS_POOL_TIMEOUT_
      SECONDS``) for one of ``MAX_CONNECTIONS`` connections instead of failing at once;
    - a pooled connection idle for ``ECO2_REDIS_HEALTH_CHECK_SECONDS`` is pinged before use,
      and a command that meets a dropped connection (Redis restarted) is retried once on a
      fresh one. Timeouts are not retried: a stalled server would only double the wait.
    """
    pool = BlockingConnectionPool.from_url(
        settings.redis_url or "",
        max_connections=MAX_CONNECTIONS,
        timeout=settings.redis_pool_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        socket_timeout=settings.redis_socket_timeout_seconds,
        health_check_interval=settings.redis_health_check_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        retry_on_error=[RedisConnectionError],
        **DRIVER_INFO,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool
