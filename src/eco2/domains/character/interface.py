"""The character port: scan's rewards, auth's first-login mascot and chat's look at the catalog
and a user's collection, in-process or over HTTP."""

from __future__ import annotations

from typing import Protocol

from eco2.domains.character.schemas import (
    Ack,
    CatalogCharacter,
    GrantRequest,
    GrantResult,
    OwnedCharacter,
    Reward,
)
from eco2.domains.character.services import CharacterService
from eco2.platform.runtime import Runtime


class CharacterPort(Protocol):
    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None: ...

    async def ensure_mascot(self, user_id: str) -> None: ...

    async def catalog(self) -> list[CatalogCharacter]: ...

    async def owned(self, user_id: str) -> list[OwnedCharacter]: ...


class LocalCharacter:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _service(self) -> CharacterService:
        return self._runtime.service("character", CharacterService)

    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None:
        return await self._service.grant(user_id, middle_category, source_id)

    async def ensure_mascot(self, user_id: str) -> None:
        await self._service.ensure_mascot(user_id)

    async def catalog(self) -> list[CatalogCharacter]:
        return await self._service.catalog()

    async def owned(self, user_id: str) -> list[OwnedCharacter]:
        return await self._service.owned(user_id)


class RemoteCharacter:
    def __init__(self, runtime: Runtime) -> None:
        self._client = runtime.internal_client("character")

    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None:
        request = GrantRequest(
            user_id=user_id, middle_category=middle_category, source_id=source_id
        )
        result = await self._client.call("POST", "/grants", json=request, into=GrantResult)
        return result.reward

    async def ensure_mascot(self, user_id: str) -> None:
        await self._client.call("POST", f"/users/{user_id}/mascot", into=Ack)

    async def catalog(self) -> list[CatalogCharacter]:
        return await self._client.call("GET", "/catalog", into=list[CatalogCharacter])

    async def owned(self, user_id: str) -> list[OwnedCharacter]:
        return await self._client.call(
            "GET", f"/users/{user_id}/characters", into=list[OwnedCharacter]
        )


def character_port(runtime: Runtime) -> CharacterPort:
    return LocalCharacter(runtime) if runtime.serves("character") else RemoteCharacter(runtime)
