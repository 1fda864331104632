"""``/api/v1/user/me`` (and the later client's plural ``/users/me``)."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from eco2.domains.users.deps import Users
from eco2.domains.users.erasure import ErasureState
from eco2.domains.users.schemas import LoginRecord, LoginResult, UserProfile, UserUpdate
from eco2.platform.di import AuthRequest
from eco2.platform.internal import internal_router
from eco2.registry import API


class MeController(Controller):
    path = f"{API}/user/me"
    tags = ["users"]

    @get("/", summary="My profile")
    async def me(self, request: AuthRequest, users: Users) -> UserProfile:
        return await users.profile(request.user.user_id)

    @patch("/", summary="Update nickname and/or phone number")
    async def update(
        self, request: AuthRequest, users: Users, data: JSONBody[UserUpdate]
    ) -> UserProfile:
        return await users.update(request.user.user_id, data.cleaned())

    @delete(
        "/",
        summary="Delete my account and all its data",
        description="Answered once the deletion is recorded; a job erases every domain's data.",
        status_code=204,
    )
    async def remove(self, request: AuthRequest, users: Users) -> None:
        await users.delete_account(request.user.user_id)


class PluralMeController(MeController):
    path = f"{API}/users/me"
    include_in_schema = False


@post("/logins", status_code=200)
async def record_login(data: JSONBody[LoginRecord], users: Users) -> LoginResult:
    return await users.record_login(data)


@get("/erasures/{user_id:str}")
async def erasure_state(user_id: FromPath[str], users: Users) -> ErasureState:
    return await users.erasure_state(user_id)


internal = internal_router("users", [record_login, erasure_state])

route_handlers = [MeController, PluralMeController, internal]
