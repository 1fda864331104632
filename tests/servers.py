"""Real PostgreSQL and Redis for tests.

Order of preference: ``ECO2_TEST_DATABASE_URL``/``ECO2_TEST_REDIS_URL``; containers when a
Docker engine answers; else the embedded servers the app itself uses.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # any failure means "no engine here"
        return False
    return True


@contextlib.contextmanager
def _containers() -> Iterator[dict[str, str]]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as pg, RedisContainer() as redis:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield {"database_url": pg.get_connection_url(), "redis_url": f"redis://{host}:{port}/0"}


@contextlib.contextmanager
def test_servers(work_dir: Path) -> Iterator[dict[str, str]]:
    urls = {
        "database_url": os.environ.get("ECO2_TEST_DATABASE_URL", ""),
        "redis_url": os.environ.get("ECO2_TEST_REDIS_URL", ""),
    }
    missing = [k for k, v in urls.items() if not v]
    if not missing:
        yield urls
        return
    if _docker_available():
        with _containers() as started:
            yield {**started, **{k: v for k, v in urls.items() if v}}
        return
    from eco2.platform.embedded import embedded_services

    with embedded_services(
        work_dir, postgres="database_url" in missing, valkey="redis_url" in missing
    ) as started:
        yield {**urls, **started}
