"""The location service: built (and, on a first local start, the bundled places imported)
when the domain starts, handed to handlers as ``locations: Locations``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.location.services import LocationService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Locations: TypeAlias = NamedDependency[LocationService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[LocationService]:
    service = LocationService(runtime)
    await service.import_bundled_if_empty()
    yield service


dependency = ServiceDependency("locations", LocationService)
