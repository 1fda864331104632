"""``/api/v1/user/me`` (and the later client's plural ``/users/me``)."""

from __future__ import annotations

from typing import TypeAlias

from litestar import Controller, Litestar, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from eco2.domains.users import services
from eco2.domains.users.erasure import Erasures, ErasureState
from eco2.domains.users.schemas import LoginRecord, LoginResult, UserProfile, UserUpdate
from eco2.platform.di import AuthRequest, DbSession
from eco2.platform.internal import require_internal_token
from eco2.registry import API

ErasuresDep: TypeAlias = NamedDependency[Erasures]


def provide_erasures(state: State) -> Erasures:
    erasures: Erasures = state.erasures
    return erasures


erasure_dependencies = {"erasures": Provide(provide_erasures, sync_to_thread=False)}


class MeController(Controller):
    path = f"{API}/user/me"
    tags = ["users"]
    dependencies = erasure_dependencies

    @get("/", summary="My profile")
    async def me(self, request: AuthRequest, db_session: DbSession) -> UserProfile:
        return services.to_user_profile(await services.get_user(db_session, request.user.user_id))

    @patch("/", summary="Update nickname and/or phone number")
    async def update(
        self, request: AuthRequest, db_session: DbSession, data: JSONBody[UserUpdate]
    ) -> UserProfile:
        user = await services.update_user(db_session, request.user.user_id, data.cleaned())
        return services.to_user_profile(user)

    @delete(
        "/",
        summary="Delete my account and all its data",
        description="Answered once the deletion is recorded; a job erases every domain's data.",
        status_code=204,
    )
    async def remove(self, request: AuthRequest, erasures: ErasuresDep) -> None:
        await erasures.request(request.user.user_id)


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


@get(
    "/internal/users/erasures/{user_id:str}",
    guards=[require_internal_token],
    include_in_schema=False,
    dependencies=erasure_dependencies,
)
async def erasure_state(user_id: FromPath[str], erasures: ErasuresDep) -> ErasureState:
    return await erasures.state(user_id)


route_handlers = [MeController, PluralMeController, record_login, erasure_state]


async def start_erasures(app: Litestar) -> None:
    app.state.erasures = Erasures(app.state.runtime)


on_startup = [start_erasures]
