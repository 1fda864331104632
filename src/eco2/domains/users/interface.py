"""What other domains use from users: the port auth calls at sign-in (in-process or over
HTTP) and the nickname rule auth applies to a local sign-in's name."""

from __future__ import annotations

from typing import Protocol

from eco2.domains.users.nicknames import clean_nickname as clean_nickname
from eco2.domains.users.schemas import LoginRecord, LoginResult
from eco2.domains.users.services import UserService
from eco2.platform.runtime import Runtime


class UsersPort(Protocol):
    async def record_login(self, record: LoginRecord) -> LoginResult: ...


class LocalUsers:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _service(self) -> UserService:
        return self._runtime.service("users", UserService)

    async def record_login(self, record: LoginRecord) -> LoginResult:
        return await self._service.record_login(record)


class RemoteUsers:
    def __init__(self, runtime: Runtime) -> None:
        self._client = runtime.internal_client("users")

    async def record_login(self, record: LoginRecord) -> LoginResult:
        return await self._client.call("POST", "/logins", json=record, into=LoginResult)


def users_port(runtime: Runtime) -> UsersPort:
    return LocalUsers(runtime) if runtime.serves("users") else RemoteUsers(runtime)
