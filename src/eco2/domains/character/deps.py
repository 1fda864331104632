"""The character service: built (and the catalog seeded) when the domain starts, handed to
handlers as ``characters: Characters``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from litestar.di import NamedDependency

from eco2.domains.character.services import CharacterService
from eco2.platform.di import ServiceDependency
from eco2.platform.runtime import Runtime

Characters: TypeAlias = NamedDependency[CharacterService]


@asynccontextmanager
async def lifecycle(runtime: Runtime) -> AsyncIterator[CharacterService]:
    service = CharacterService(runtime)
    await service.seed_catalog()
    yield service


dependency = ServiceDependency("characters", CharacterService)
