"""Access-token verification with a bounded cache of already verified tokens.

A browser sends the same access token for up to 15 minutes, so most checks can skip the RSA
signature check (~0.2 ms of CPU). The cache belongs to one codec, hence to one key ring: a
new ring comes with a new, empty cache, so a removed key stops verifying at once. An entry is
used only before the token's ``exp``; failures are never cached; revocation is not cached
here (callers check it on every request).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from eco2.platform.security import Identity, TokenCodec, identity_from_claims


def token_cache_counter(prefix: str, registry: CollectorRegistry | None) -> Counter:
    """Lookups by result (hit, miss) under ``<prefix>_token_cache`` (``registry=None``: not
    exported)."""
    return Counter(
        f"{prefix}_token_cache",
        "Verified-token cache lookups (hit: no signature check needed).",
        ["result"],
        registry=registry,
    )


class VerifiedTokens:
    def __init__(
        self,
        codec: TokenCodec,
        *,
        size: int,
        lookups: Counter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.codec = codec
        self.size = size
        self.clock = clock  # wall clock: compared with ``exp``
        self._hit, self._miss = lookups.labels("hit"), lookups.labels("miss")
        self._cache: dict[str, Identity] = {}

    def verify(self, token: str) -> Identity:
        """The identity of a valid access token; raises ``InvalidToken``."""
        identity = self._cache.get(token)
        if identity is not None and (identity.expires_at or 0) > self.clock():
            self._hit.inc()
            return identity
        self._miss.inc()
        identity = identity_from_claims(self.codec.verify(token, "access"))
        self._remember(token, identity)
        return identity

    def _remember(self, token: str, identity: Identity) -> None:
        if self.size <= 0:
            return
        if len(self._cache) >= self.size:
            del self._cache[next(iter(self._cache))]  # oldest first; dicts keep insertion order
        self._cache[token] = identity
