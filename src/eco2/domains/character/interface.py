"""The character port: scan's rewards and auth's first-login mascot, in-process or over HTTP."""

from __future__ import annotations

from typing import Protocol

from eco2.domains.character import services
from eco2.domains.character.schemas import Ack, GrantRequest, GrantResult, Reward
from eco2.platform.runtime import Runtime


class CharacterPort(Protocol):
    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None: ...

    async def ensure_mascot(self, user_id: str) -> None: ...


class LocalCharacter:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None:
        async with self._runtime.sessions.begin() as session:
            return await services.grant(session, user_id, middle_category, source_id)

    async def ensure_mascot(self, user_id: str) -> None:
        async with self._runtime.sessions.begin() as session:
            await services.ensure_mascot(session, user_id)


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


def character_port(runtime: Runtime) -> CharacterPort:
    return LocalCharacter(runtime) if runtime.serves("character") else RemoteCharacter(runtime)
