"""Access-token verification against the current key source (JWKS or local keys).

The verified-token cache is the kernel's (``eco2.platform.verified_tokens``); this adds what
only the authz server needs: keys that change at run time and a rate-limited refetch when a
token names an unknown ``kid``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from eco2.authz.decisions import KeysUnavailable
from eco2.authz.keys import KeySource
from eco2.authz.metrics import TOKEN_CACHE
from eco2.keys import token_codec
from eco2.platform.security import Identity, InvalidToken, StreamTicket
from eco2.platform.verified_tokens import VerifiedTokens
from eco2.settings import Settings

T = TypeVar("T")


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
        self._tokens: VerifiedTokens | None = None
        self._version = -1

    async def verify(self, token: str) -> Identity:
        return await self._with_keys(lambda: self._current().verify(token))

    async def verify_ticket(self, token: str) -> StreamTicket:
        return await self._with_keys(lambda: self._current().codec.verify_ticket(token))

    async def _with_keys(self, check: Callable[[], T]) -> T:
        """``check()`` with the current keys, once more after a refetch for an unknown kid."""
        if self.keys.ring is None:  # not loaded yet (JWKS down at start): try now, rate-limited
            await self.keys.refresh_for_unknown_kid()
        try:
            return check()
        except InvalidToken as exc:
            if exc.reason != "unknown_kid" or not await self.keys.refresh_for_unknown_kid():
                raise
            return check()

    def _current(self) -> VerifiedTokens:
        if self._version != self.keys.version or self._tokens is None:
            ring = self.keys.ring
            if ring is None:
                raise KeysUnavailable
            # A new ring, a new (empty) cache: a removed key must stop verifying at once.
            self._tokens = VerifiedTokens(
                token_codec(ring, self.settings),
                size=self.cache_size,
                lookups=TOKEN_CACHE,
                clock=self.clock,
            )
            self._version = self.keys.version
        return self._tokens
