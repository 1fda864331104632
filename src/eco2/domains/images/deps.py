"""The images service: built when the domain starts, handed to handlers as ``images: Images``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.images.services import ImageService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Images: TypeAlias = NamedDependency[ImageService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[ImageService]:
    yield ImageService(runtime)


dependency = ServiceDependency("images", ImageService)
