"""Redis (or Valkey) client shared by a process."""

from __future__ import annotations

from typing import Any

import redis
from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 256
POOL_WAIT_SECONDS = 2.0


def _driver_info() -> dict[str, Any]:
    """Given once: left to redis-py ≥ 7, every new connection re-reads the package metadata
    (~5 ms of CPU each, a second per burst of a few hundred connections)."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # older redis-py has no per-connection driver info
        return {}
    return {"driver_info": DriverInfo(lib_version=redis.__version__)}


DRIVER_INFO = _driver_info()


def redis_client(url: str) -> Redis:
    """Short timeouts: a dead Redis must fail a request quickly, never hang it.

    A blocking pool: under a burst, a request waits (at most ``POOL_WAIT_SECONDS``) for one of
    ``MAX_CONNECTIONS`` connections instead of failing at once as the default pool does when
    its 100 connections are all busy.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        retry_on_timeout=False,
        **DRIVER_INFO,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool
