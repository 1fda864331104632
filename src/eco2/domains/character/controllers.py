"""Catalog, my collection, and the internal reward routes."""

from __future__ import annotations

from litestar import Router, get, post
from litestar.params import FromPath, JSONBody

from eco2.domains.character.deps import Characters
from eco2.domains.character.schemas import (
    Ack,
    CatalogCharacter,
    GrantRequest,
    GrantResult,
    OwnedCharacter,
)
from eco2.platform.di import AuthRequest
from eco2.platform.internal import internal_router
from eco2.registry import API


@get("/character/catalog", summary="All 13 characters")
async def catalog(characters: Characters) -> list[CatalogCharacter]:
    return await characters.catalog()


@get(
    ["/user/me/characters", "/users/me/characters"],
    summary="Characters I own, newest first (always includes 이코)",
)
async def my_characters(request: AuthRequest, characters: Characters) -> list[OwnedCharacter]:
    return await characters.owned(request.user.user_id)


@post("/grants", status_code=200)
async def grant(data: JSONBody[GrantRequest], characters: Characters) -> GrantResult:
    reward = await characters.grant(data.user_id, data.middle_category, data.source_id)
    return GrantResult(reward=reward)


@post("/users/{user_id:str}/mascot", status_code=200)
async def mascot(user_id: FromPath[str], characters: Characters) -> Ack:
    await characters.ensure_mascot(user_id)
    return Ack()


@get("/catalog")
async def internal_catalog(characters: Characters) -> list[CatalogCharacter]:
    return await characters.catalog()


@get("/users/{user_id:str}/characters")
async def internal_owned(user_id: FromPath[str], characters: Characters) -> list[OwnedCharacter]:
    return await characters.owned(user_id)


internal = internal_router("character", [grant, mascot, internal_catalog, internal_owned])

public = Router(API, route_handlers=[catalog, my_characters], tags=["character"])

route_handlers = [public, internal]
