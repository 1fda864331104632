"""Pure decision logic: request attributes in, allow or deny out (no gRPC, no Redis client).

Compatible with the original Go ext-authz so existing Istio config keeps working: preflights
and registry-public paths pass, every other request needs a valid, unrevoked access token
from ``Authorization: Bearer`` or the ``s_access`` cookie. Failing that, a job's stream path
(``registry.job_stream_path``) also passes with a valid stream ticket for exactly that job in
its ``?ticket=`` (an ``EventSource`` reconnecting after the access token expired): the ticket's
owner becomes the caller, as the app does when it verifies tokens itself.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from eco2 import registry
from eco2.platform.revocations import RevocationStoreUnavailable
from eco2.platform.security import (
    ACCESS_COOKIE,
    Identity,
    InvalidToken,
    StreamTicket,
    ticket_in_query,
)

USER_ID_HEADER = "x-user-id"
PROVIDER_HEADER = "x-auth-provider"
IDENTITY_HEADERS = (USER_ID_HEADER, PROVIDER_HEADER)

_MESSAGES = {
    401: "로그인이 필요합니다.",
    503: "일시적으로 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.",
}


class KeysUnavailable(Exception):
    """No verification keys yet (the JWKS endpoint has not answered)."""


class Verifier(Protocol):
    async def verify(self, token: str) -> Identity:
        """The identity of a valid access token; raises InvalidToken or KeysUnavailable."""
        ...

    async def verify_ticket(self, token: str) -> StreamTicket:
        """The grant of a valid stream ticket; raises InvalidToken or KeysUnavailable."""
        ...


class RevocationChecker(Protocol):
    async def is_revoked(self, identity: Identity) -> bool:
        """Raises RevocationStoreUnavailable when it cannot tell."""
        ...


@dataclass(frozen=True, slots=True)
class CheckInput:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names, as Envoy sends them


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int
    reason: str  # a stable metrics label
    set_headers: tuple[tuple[str, str], ...] = ()  # upstream request (allow) or reply (deny)
    remove_headers: tuple[str, ...] = ()
    body: bytes = b""

    @property
    def result(self) -> str:
        if self.allowed:
            return "allow"
        return "error" if self.status >= 500 else "deny"


class PublicPaths:
    """The registry's public paths, precomputed (``*`` suffix = prefix)."""

    def __init__(self, patterns: Collection[str]) -> None:
        self._exact = frozenset(p for p in patterns if not p.endswith("*"))
        self._prefixes = tuple(p[:-1] for p in patterns if p.endswith("*"))

    @classmethod
    def from_registry(cls) -> PublicPaths:
        return cls(registry.public_paths())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self._exact or path.startswith(self._prefixes))


class Decider:
    def __init__(
        self,
        verifier: Verifier,
        revocations: RevocationChecker,
        *,
        cors_origins: Collection[str],
        fail_open: bool = False,
        public: PublicPaths | None = None,
    ) -> None:
        self.verifier = verifier
        self.revocations = revocations
        self.cors_origins = frozenset(cors_origins)
        self.fail_open = fail_open
        self.public = public or PublicPaths.from_registry()

    async def decide(self, request: CheckInput) -> Decision:
        if request.method == "OPTIONS":
            return _anonymous("preflight")
        path, _, query = request.path.partition("?")
        if path in self.public:
            return _anonymous("public")
        decision = await self._with_token(request)
        ticket = ticket_in_query(query) if decision.status == 401 else None
        if ticket is None:
            return decision
        return await self._with_ticket(request, ticket, path)

    async def _with_ticket(self, request: CheckInput, ticket: str, path: str) -> Decision:
        try:
            granted = await self.verifier.verify_ticket(ticket)
        except InvalidToken as exc:
            return self._deny(request, 401, "invalid_ticket", f"ticket_{exc.reason}")
        except KeysUnavailable:
            return self._deny(request, 503, "keys_unavailable")
        if not granted.opens(path, registry.job_stream_path):
            return self._deny(request, 401, "invalid_ticket", "ticket_other_path")
        return _authenticated(granted.identity(), None, "ticket")

    async def _with_token(self, request: CheckInput) -> Decision:
        token, from_cookie = token_from(request.headers)
        if token is None:
            return self._deny(request, 401, "missing_token")
        try:
            identity = await self.verifier.verify(token)
        except InvalidToken as exc:
            return self._deny(request, 401, "invalid_token", exc.reason)
        except KeysUnavailable:
            return self._deny(request, 503, "keys_unavailable")
        return await self._check_revocation(request, identity, token if from_cookie else None)

    async def _check_revocation(
        self, request: CheckInput, identity: Identity, cookie_token: str | None
    ) -> Decision:
        reason = "valid"
        try:
            if await self.revocations.is_revoked(identity):
                return self._deny(request, 401, "token_revoked")
        except RevocationStoreUnavailable:
            if not self.fail_open:
                return self._deny(request, 503, "revocation_store_unavailable")
            reason = "revocation_unchecked"
        return _authenticated(identity, cookie_token, reason)

    def _deny(self, request: CheckInput, status: int, code: str, reason: str = "") -> Decision:
        origin = request.headers.get("origin", "")
        headers = _deny_headers(origin if origin in self.cors_origins else "")
        return Decision(False, status, reason or code, headers, (), error_json(status, code))


def token_from(headers: Mapping[str, str]) -> tuple[str | None, bool]:
    """(token, came from the cookie): Bearer first, then the ``s_access`` cookie."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    token = cookie_value(headers.get("cookie", ""), ACCESS_COOKIE)
    return token, token is not None


def cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value.strip('"')
    return None


def _anonymous(reason: str) -> Decision:
    # Nothing vouches for who this is: drop identity headers a client may have forged.
    return Decision(True, 200, reason, (), IDENTITY_HEADERS)


def _authenticated(identity: Identity, cookie_token: str | None, reason: str) -> Decision:
    # Envoy applies headers_to_set before headers_to_remove: never list a header in both.
    set_headers = [(USER_ID_HEADER, identity.user_id)]
    remove: tuple[str, ...] = ()
    if identity.provider:
        set_headers.append((PROVIDER_HEADER, identity.provider))
    else:
        remove = (PROVIDER_HEADER,)
    if cookie_token is not None:  # upstreams and logs see one canonical credential
        set_headers.append(("authorization", f"Bearer {cookie_token}"))
    return Decision(True, 200, reason, tuple(set_headers), remove)


@cache
def error_json(status: int, code: str) -> bytes:
    """The project's error shape (``eco2.platform.errors.error_body``), without Litestar."""
    body = {"error": {"code": code, "message": _MESSAGES.get(status, _MESSAGES[401])}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@cache
def _deny_headers(origin: str) -> tuple[tuple[str, str], ...]:
    headers = [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("vary", "Origin"),
    ]
    if origin:  # credentialed CORS so the browser may read the 401 and refresh
        headers += [
            ("access-control-allow-origin", origin),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "X-Request-Id"),
        ]
    return tuple(headers)
