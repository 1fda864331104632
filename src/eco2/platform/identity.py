"""Who is calling: the authentication every non-public route runs behind.

Handlers read the caller as ``request.user`` (``request: AuthRequest``). Resolving it in the
app's innermost middleware, before the handler's parameters are read, makes an anonymous
request a 401 (the client then refreshes), never a 422 — and costs the handler no dependency:
Litestar resolves two or more dependencies of a handler in an anyio task group, which under a
burst of requests cost more CPU than verifying the token itself. (A guard would do the same,
but Litestar copies the route handler for every guard call: more than the check itself.)

Either verifies the access JWT itself (default) or, behind the ext_authz gateway
(``ECO2_AUTH_TRUST_GATEWAY=true``), trusts the ``x-user-id``/``x-auth-provider`` headers the
gateway injected after stripping any client-sent copies. Verifying here uses the same
caches as the gateway: already verified tokens skip the RSA check, and revocations are read
from the in-process revoked set (``eco2.platform.revocations``), not from Redis per request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis

from eco2.platform.errors import AppError, ServiceUnavailable, Unauthorized, answer_error
from eco2.platform.internal import INTERNAL_PREFIX
from eco2.platform.metrics import REVOCATIONS, TOKEN_CACHE
from eco2.platform.revocations import RevocationCache, RevocationStoreUnavailable
from eco2.platform.security import (
    ACCESS_COOKIE,
    Identity,
    InvalidToken,
    StreamPath,
    TokenCodec,
    ticket_in_query,
)
from eco2.platform.verified_tokens import VerifiedTokens
from eco2.settings import Settings

log = structlog.get_logger(__name__)

USER_ID_HEADER = "x-user-id"
PROVIDER_HEADER = "x-auth-provider"


class IdentityResolver(Protocol):
    async def resolve(self, request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        """The caller's identity; raises Unauthorized (401) or ServiceUnavailable (503)."""
        ...


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    tokens: VerifiedTokens
    revocations: RevocationCache
    stream_path: StreamPath | None = None  # where stream tickets are valid (None: nowhere)

    async def resolve(self, request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        """The access token's caller; failing that, on a job's stream path only, the owner a
        valid stream ticket names (an ``EventSource`` reconnecting after the token expired)."""
        try:
            return await self._from_token(request)
        except Unauthorized as refused:
            ticket = ticket_in_query(request.scope.get("query_string", b"").decode("latin-1"))
            if ticket is None or self.stream_path is None:
                raise
            return self._from_ticket(ticket, request.scope["path"], self.stream_path, refused)

    def _from_ticket(
        self, ticket: str, path: str, stream_path: StreamPath, refused: Unauthorized
    ) -> Identity:
        try:
            granted = self.tokens.codec.verify_ticket(ticket)
        except InvalidToken as exc:
            log.info("ticket_refused", reason=exc.reason)
            raise Unauthorized(code="invalid_ticket") from refused
        if not granted.opens(path, stream_path):
            log.info("ticket_refused", reason="other_path")
            raise Unauthorized(code="invalid_ticket") from refused
        return granted.identity()

    async def _from_token(self, request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        token = bearer_or_cookie(request.headers.get("authorization"), request.cookies)
        if not token:
            raise Unauthorized(code="missing_token")
        try:
            identity = self.tokens.verify(token)
        except InvalidToken as exc:
            log.info("token_refused", reason=exc.reason)
            raise Unauthorized(code="invalid_token") from exc
        try:
            revoked = await self.revocations.is_revoked(identity)
        except RevocationStoreUnavailable as exc:  # fail closed: a revocation may exist
            raise ServiceUnavailable(code="revocation_store_unavailable") from exc
        if revoked:
            raise Unauthorized(code="token_revoked")
        return identity


class GatewayIdentity:
    async def resolve(self, request: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        user_id = request.headers.get(USER_ID_HEADER)
        if not user_id:
            raise Unauthorized(code="missing_token")
        return Identity(user_id=user_id, provider=request.headers.get(PROVIDER_HEADER, ""))


def identity_resolver(
    settings: Settings, codec: TokenCodec | None, redis: Redis, stream_path: StreamPath | None
) -> tuple[IdentityResolver, RevocationCache | None]:
    """The guard's resolver and, when it verifies tokens here, the revoked set it reads (for
    the caller to start, close and hand to ``Revocations``). Behind the gateway, stream
    tickets are verified there (``eco2.authz.decisions``)."""
    if settings.auth_trust_gateway:
        return GatewayIdentity(), None
    if codec is None:
        raise RuntimeError("no signing keys: set ECO2_AUTH_SIGNING_KEYS (see `eco2 keys generate`)")
    revoked = RevocationCache.for_settings(settings, lookups=redis, metrics=REVOCATIONS)
    tokens = VerifiedTokens(codec, size=settings.authz_token_cache_size, lookups=TOKEN_CACHE)
    return TokenIdentity(tokens, revoked, stream_path), revoked


def bearer_or_cookie(authorization: str | None, cookies: dict[str, str]) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return cookies.get(ACCESS_COOKIE) or None


def authentication_middleware(app: ASGIApp, exempt: re.Pattern[str]) -> ASGIApp:
    """``request.user`` for every request but ``OPTIONS`` and the ``exempt`` paths."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope["method"] != "OPTIONS"
            and not exempt.match(scope["path"])
        ):
            resolver: IdentityResolver = scope["litestar_app"].state.identity_resolver
            try:
                scope["user"] = await resolver.resolve(ASGIConnection(scope, receive, send))
            except AppError as exc:
                await answer_error(exc, scope, receive, send)
                return
        await app(scope, receive, send)

    return middleware


def authentication(public_patterns: Sequence[str]) -> DefineMiddleware:
    """App-wide, innermost: on every route but the public ones (anchored patterns) and the
    internal routes (which carry a service credential of their own), resolve the caller into
    ``request.user`` before the handler's parameters are read."""
    exempt = re.compile("|".join([*public_patterns, f"^{re.escape(INTERNAL_PREFIX)}"]))
    return DefineMiddleware(authentication_middleware, exempt=exempt)
