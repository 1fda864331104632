"""Access-token verification with a small cache of already verified tokens.

A browser sends the same access token for up to 15 minutes, so most checks can skip the RSA
signature check. A cached entry is only used before the token's ``exp`` and only with the
key set that verified it; revocation is never cached (it is checked on every request).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eco2.authz.decisions import KeysUnavailable
from eco2.authz.keys import KeySource
from eco2.authz.metrics import TOKEN_CACHE_HIT, TOKEN_CACHE_MISS
from eco2.platform.security import (
    Identity,
    InvalidToken,
    KeyRing,
    TokenCodec,
    identity_from_claims,
)
from eco2.settings import Settings


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        settings: Settings,
        *,
        cache_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.settings = settings
        self.cache_size = settings.authz_token_cache_size if cache_size is None else cache_size
        self.clock = clock
        self._cache: dict[str, Identity] = {}
        self._codec: TokenCodec | None = None
        self._version = -1

    async def verify(self, token: str) -> Identity:
        if self.keys.ring is None:  # not loaded yet (JWKS down at start): try now, rate-limited
            await self.keys.refresh_for_unknown_kid()
        codec = self._current_codec()
        identity = self._cache.get(token)
        if identity is not None and (identity.expires_at or 0) > self.clock():
            TOKEN_CACHE_HIT.inc()
            return identity
        TOKEN_CACHE_MISS.inc()
        try:
            claims = codec.verify(token, "access")
        except InvalidToken as exc:
            if exc.reason != "unknown_kid" or not await self.keys.refresh_for_unknown_kid():
                raise
            claims = self._current_codec().verify(token, "access")
        identity = identity_from_claims(claims)
        self._remember(token, identity)
        return identity

    def _current_codec(self) -> TokenCodec:
        if self._version != self.keys.version or self._codec is None:
            ring = self.keys.ring
            if ring is None:
                raise KeysUnavailable
            self._codec = self._build(ring)
            self._version = self.keys.version
            self._cache.clear()  # a removed key must stop verifying at once
        return self._codec

    def _build(self, ring: KeyRing) -> TokenCodec:
        s = self.settings
        return TokenCodec(
            ring,
            issuer=s.auth_issuer,
            audience=s.auth_audience,
            ttl={"access": s.auth_access_ttl_seconds, "refresh": s.auth_refresh_ttl_seconds},
            leeway=s.auth_leeway_seconds,
        )

    def _remember(self, token: str, identity: Identity) -> None:
        if self.cache_size <= 0:
            return
        if len(self._cache) >= self.cache_size:
            del self._cache[next(iter(self._cache))]  # oldest first; dicts keep insertion order
        self._cache[token] = identity
