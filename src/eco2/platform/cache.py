"""Redis (or Valkey) client shared by a process."""

from __future__ import annotations

from redis.asyncio import Redis


def redis_client(url: str) -> Redis:
    # Short timeouts: a dead Redis must fail a request quickly, never hang it.
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        retry_on_timeout=False,
    )
