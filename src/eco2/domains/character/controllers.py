"""Catalog, my collection, and the internal reward routes."""

from __future__ import annotations

from litestar import Router, get, post
from litestar.params import FromPath, JSONBody

from eco2.domains.character import services
from eco2.domains.character.schemas import (
    Ack,
    CatalogCharacter,
    GrantRequest,
    GrantResult,
    OwnedCharacter,
)
from eco2.platform.di import AuthRequest, DbSession
from eco2.platform.internal import require_internal_token
from eco2.registry import API


@get(f"{API}/character/catalog", tags=["character"], summary="All 13 characters")
async def catalog(db_session: DbSession) -> list[CatalogCharacter]:
    return await services.catalog(db_session)


@get(
    [f"{API}/user/me/characters", f"{API}/users/me/characters"],
    tags=["character"],
    summary="Characters I own, newest first (always includes 이코)",
)
async def my_characters(request: AuthRequest, db_session: DbSession) -> list[OwnedCharacter]:
    return await services.owned(db_session, request.user.user_id)


@post("/grants", status_code=200)
async def grant(data: JSONBody[GrantRequest], db_session: DbSession) -> GrantResult:
    reward = await services.grant(db_session, data.user_id, data.middle_category, data.source_id)
    return GrantResult(reward=reward)


@post("/users/{user_id:str}/mascot", status_code=200)
async def mascot(user_id: FromPath[str], db_session: DbSession) -> Ack:
    await services.ensure_mascot(db_session, user_id)
    return Ack()


@get("/catalog")
async def internal_catalog(db_session: DbSession) -> list[CatalogCharacter]:
    return await services.catalog(db_session)


@get("/users/{user_id:str}/characters")
async def internal_owned(user_id: FromPath[str], db_session: DbSession) -> list[OwnedCharacter]:
    return await services.owned(db_session, user_id)


internal = Router(
    "/internal/character",
    route_handlers=[grant, mascot, internal_catalog, internal_owned],
    guards=[require_internal_token],
    include_in_schema=False,
)

route_handlers = [catalog, my_characters, internal]
on_startup = [services.seed_catalog]
