"""``/api/v1/user/me`` (and the later client's plural ``/users/me``)."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from eco2.domains.users import services
from eco2.domains.users.schemas import LoginRecord, LoginResult, UserProfile, UserUpdate
from eco2.platform.di import AuthRequest, DbSession, RuntimeDep
from eco2.platform.internal import require_internal_token
from eco2.registry import API


class MeController(Controller):
    path = f"{API}/user/me"
    tags = ["users"]

    @get("/", summary="My profile")
    async def me(self, request: AuthRequest, db_session: DbSession) -> UserProfile:
        return services.to_user_profile(await services.get_user(db_session, request.user.user_id))

    @patch("/", summary="Update nickname and/or phone number")
    async def update(
        self, request: AuthRequest, db_session: DbSession, data: JSONBody[UserUpdate]
    ) -> UserProfile:
        user = await services.update_user(db_session, request.user.user_id, data.cleaned())
        return services.to_user_profile(user)

    @delete("/", summary="Delete my account and all its data", status_code=204)
    async def remove(
        self, request: AuthRequest, runtime: RuntimeDep, db_session: DbSession
    ) -> None:
        await services.get_user(db_session, request.user.user_id)
        await services.delete_account(runtime, request.user.user_id)


class PluralMeController(MeController):
    path = f"{API}/users/me"
    include_in_schema = False


@post(
    "/internal/users/logins",
    guards=[require_internal_token],
    include_in_schema=False,
    status_code=200,
)
async def record_login(data: JSONBody[LoginRecord], db_session: DbSession) -> LoginResult:
    return await services.record_login(db_session, data)


route_handlers = [MeController, PluralMeController, record_login]
