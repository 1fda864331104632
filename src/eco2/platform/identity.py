"""The one request-identity dependency every domain uses (``identity: Identity``).

Either verifies the access JWT itself (default) or, behind the ext_authz gateway
(``ECO2_AUTH_TRUST_GATEWAY=true``), trusts the ``x-user-id``/``x-auth-provider`` headers the
gateway injected after stripping any client-sent copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from redis.exceptions import RedisError

from eco2.platform.errors import ServiceUnavailable, Unauthorized
from eco2.platform.security import (
    ACCESS_COOKIE,
    Identity,
    InvalidToken,
    Revocations,
    TokenCodec,
    identity_from_claims,
)

log = structlog.get_logger(__name__)

IDENTITY_KWARG = "identity"  # the dependency's name in every handler signature
USER_ID_HEADER = "x-user-id"
PROVIDER_HEADER = "x-auth-provider"


@dataclass(frozen=True, slots=True)
class IdentityResolver:
    codec: TokenCodec | None
    revocations: Revocations
    trust_gateway: bool

    async def resolve(self, request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        if self.trust_gateway:
            return self._from_gateway(request)
        token = bearer_or_cookie(request.headers.get("authorization"), request.cookies)
        if not token or self.codec is None:
            raise Unauthorized(code="missing_token")
        try:
            identity = identity_from_claims(self.codec.verify(token, "access"))
        except InvalidToken as exc:
            log.info("token_refused", reason=exc.reason)
            raise Unauthorized(code="invalid_token") from exc
        try:
            revoked = await self.revocations.is_revoked(identity)
        except RedisError as exc:  # fail closed: a revocation we cannot check may exist
            raise ServiceUnavailable(code="revocation_store_unavailable") from exc
        if revoked:
            raise Unauthorized(code="token_revoked")
        return identity

    @staticmethod
    def _from_gateway(request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        user_id = request.headers.get(USER_ID_HEADER)
        if not user_id:
            raise Unauthorized(code="missing_token")
        return Identity(user_id=user_id, provider=request.headers.get(PROVIDER_HEADER, ""))


def bearer_or_cookie(authorization: str | None, cookies: dict[str, str]) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return cookies.get(ACCESS_COOKIE) or None


async def authenticate_first(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """App-wide guard: resolve the identity of a handler that takes one before its parameters
    are validated, so an anonymous request is a 401 (the client then refreshes), never a 422."""
    if IDENTITY_KWARG in handler.parsed_fn_signature.parameters:
        resolver: IdentityResolver = connection.app.state.identity_resolver
        connection.state[IDENTITY_KWARG] = await resolver.resolve(connection)


async def provide_identity(request: Request[Any, Any, Any]) -> Identity:
    identity: Identity | None = request.state.get(IDENTITY_KWARG)
    if identity is None:
        resolver: IdentityResolver = request.app.state.identity_resolver
        identity = await resolver.resolve(request)
    return identity
