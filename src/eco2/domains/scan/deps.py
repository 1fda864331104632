"""The scan service: built when the domain starts, handed to handlers as ``scans: Scans``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.scan.services import ScanService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Scans: TypeAlias = NamedDependency[ScanService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[ScanService]:
    service = await ScanService.start(runtime)
    try:
        yield service
    finally:
        await service.close()


dependency = ServiceDependency("scans", ScanService)
