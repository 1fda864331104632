"""Cross-domain plumbing that works in-process (whole app) and over HTTP (split pods).

A domain's typed port lives in ``eco2.domains.<name>.interface``; this module holds what is
common to every domain: erasing a user's data in one domain that keeps some, in the order an
account erasure goes through them (the users domain, which holds the account, last). The
erasure itself is a job of the users domain (``eco2.domains.users.erasure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec
from litestar import delete
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from eco2 import registry
from eco2.platform.di import RuntimeDep
from eco2.platform.ids import parse_user_id
from eco2.platform.internal import require_internal_token
from eco2.platform.runtime import Runtime

ERASED_LAST = "users"


@runtime_checkable
class ForgetsUsers(Protocol):
    """What the service of a domain that holds user data offers for an account deletion."""

    async def forget_user(self, user_id: str) -> None: ...


class Forgotten(msgspec.Struct):
    domain: str
    user_id: str


async def _forget_locally(runtime: Runtime, domain: registry.Domain, user_id: str) -> None:
    await runtime.service(domain.name, ForgetsUsers).forget_user(user_id)  # type: ignore[type-abstract]


def erasure_order() -> list[registry.Domain]:
    """Every domain that holds user data; ``users`` (the account itself) last."""
    holders = [d for d in registry.DOMAINS if d.holds_user_data]
    return sorted(holders, key=lambda d: d.name == ERASED_LAST)


async def forget_in(runtime: Runtime, domain: registry.Domain, user_id: str) -> None:
    """Erase ``user_id`` from ``domain``, locally or over HTTP (idempotent)."""
    if runtime.serves(domain.name):
        await _forget_locally(runtime, domain, user_id)
    else:
        await runtime.internal_client(domain.name).call(
            "DELETE", f"/users/{user_id}", into=Forgotten
        )


def internal_route_handlers(domains: Sequence[registry.Domain]) -> list[HTTPRouteHandler]:
    """``DELETE /internal/<domain>/users/{user_id}`` for each mounted domain with user data."""
    return [_forget_route(d) for d in domains if d.holds_user_data]


def _forget_route(domain: registry.Domain) -> HTTPRouteHandler:
    async def forget(user_id: FromPath[str], runtime: RuntimeDep) -> Forgotten:
        parse_user_id(user_id)  # a malformed id owns nothing anywhere: the same 404 in every domain
        await _forget_locally(runtime, domain, user_id)
        return Forgotten(domain=domain.name, user_id=user_id)

    handler: Any = delete(
        f"{domain.internal_prefix}/users/{{user_id:str}}",
        guards=[require_internal_token],
        include_in_schema=False,
        status_code=200,
        name=f"{domain.name}-forget-user",
    )
    return handler(forget)  # type: ignore[no-any-return]
