"""The split deployment on one machine, and ports called both ways.

:class:`Cluster` runs one ``eco2 serve --domain X`` process per domain on the test's PostgreSQL
and Redis (a database of its own there: the cluster's job workers must not take the jobs of the
apps tests build), each started on first use and kept for the session. Every process knows
where every domain lives (``ECO2_SERVICE_URLS``); the images process stands in for the gateway
as the public origin (``ECO2_PUBLIC_BASE_URL``), so the photo URLs it hands out are served by
it.

:func:`port_caller` gives a port test an app in the test process that reaches the port's domain
in-process (it serves that domain) or over HTTP (the domain runs in its cluster process): the
same calls, both ways (docs/architecture.md, "Ports").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.platform.embedded import free_port
from eco2.platform.runtime import Runtime
from eco2.registry import DOMAIN_NAMES
from eco2.settings import Settings
from tests.fakes.live import client_for
from tests.fakes.processes import Eco2Process, eco2_env, eco2_serve

T = TypeVar("T")

IN_PROCESS, OVER_HTTP = "in_process", "over_http"
# Parametrise a port test with these: the HTTP side starts processes (slow).
SIDES = [IN_PROCESS, pytest.param(OVER_HTTP, marks=pytest.mark.slow)]


def _another_database(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    database = int(parts.path.strip("/") or 0)
    return parts._replace(path=f"/{(database + 1) % 16}").geturl()


class Cluster:
    def __init__(
        self, settings: Settings, signing_key_pem: str, internal_token: str, work_dir: Path
    ) -> None:
        self.work_dir = work_dir
        self.urls = {name: f"http://127.0.0.1:{free_port()}" for name in DOMAIN_NAMES}
        self.env = eco2_env(
            env="local",
            database_url=settings.database_url or "",
            redis_url=_another_database(settings.redis_url or ""),
            auth_signing_keys=signing_key_pem,
            internal_token=internal_token,
            service_urls=",".join(f"{name}={url}" for name, url in self.urls.items()),
            public_base_url=self.urls["images"],
            image_allowed_hosts=",".join(settings.image_allowed_hosts),
            waste_index_dir=str(settings.knowledge_index_dir),
            data_dir=str(work_dir / "data"),
            location_import_on_start="false",
            vision_provider="text",
            answer_provider="template",
            log_level="WARNING",
        )
        self._running: dict[str, Eco2Process] = {}
        self._stack = contextlib.ExitStack()

    async def start(self, *domains: str) -> dict[str, str]:
        """Each of ``domains`` in its own process (already running ones are kept); their URLs."""
        new = [name for name in domains if name not in self._running]
        for name in new:
            port = int(self.urls[name].rsplit(":", 1)[1])
            self._running[name] = self._stack.enter_context(
                eco2_serve(name, port=port, env=self.env, log_dir=self.work_dir)
            )
        await asyncio.gather(*(self._running[name].wait_ready() for name in new))
        return {name: self.urls[name] for name in domains}

    def reaching(self, settings: Settings, *domains: str) -> Settings:
        """``settings`` of an app that calls ``domains`` in this cluster (and serves photos
        where the cluster does)."""
        return settings.model_copy(
            update={
                "service_urls": [f"{name}={self.urls[name]}" for name in domains],
                "public_base_url": self.urls["images"],
            }
        )

    def close(self) -> None:
        """Stop every process; nothing of theirs may outlive them (their server workers)."""
        self._stack.close()
        orphans = [name for name, process in self._running.items() if process.alive()]
        assert orphans == [], f"left running: {orphans}"


@contextlib.contextmanager
def cluster_for(
    settings: Settings, signing_key_pem: str, internal_token: str, work_dir: Path
) -> Iterator[Cluster]:
    cluster = Cluster(settings, signing_key_pem, internal_token, work_dir)
    try:
        yield cluster
    finally:
        cluster.close()


@dataclass
class PortCaller:
    """An app in the test process, calling a port the way ``side`` says."""

    side: str
    client: AsyncTestClient[Litestar]

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime
        return runtime

    def expect(self, local: type[Any], remote: type[Any]) -> type[Any]:
        """The port implementation this side must be using."""
        return remote if self.side == OVER_HTTP else local

    async def run(self, call: Awaitable[T]) -> T:
        """Await ``call`` on the app's own event loop (its pooled connections live there)."""

        async def awaited() -> T:
            return await call

        return await asyncio.to_thread(self.client.blocking_portal.call, awaited)


@contextlib.asynccontextmanager
async def port_caller(
    side: str, settings: Settings, cluster: Cluster, *domains: str
) -> AsyncIterator[PortCaller]:
    """``in_process``: the whole app, ``domains`` included. ``over_http``: every other domain
    in this process, each of ``domains`` in its cluster process, reached over HTTP."""
    if side == IN_PROCESS:
        async with client_for(settings) as client:
            yield PortCaller(side, client)
        return
    await cluster.start(*domains)
    served = [name for name in DOMAIN_NAMES if name not in domains]
    async with client_for(cluster.reaching(settings, *domains), served) as client:
        yield PortCaller(side, client)
