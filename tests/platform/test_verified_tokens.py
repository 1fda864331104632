"""The kernel's verified-token cache: hits only before ``exp``, never caches a failure."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from eco2.platform.security import InvalidToken, KeyRing, TokenCodec, generate_private_key
from eco2.platform.verified_tokens import VerifiedTokens, token_cache_counter

RING = KeyRing([generate_private_key()])


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def codec(issuer: str = "eco2") -> TokenCodec:
    return TokenCodec(RING, issuer=issuer, audience="eco2-api", ttl={"access": 900, "refresh": 60})


def access(issuer: str = "eco2") -> str:
    return codec(issuer).issue("access", user_id="u", provider="kakao", family_id="f").value


class Lookups:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.counter = token_cache_counter("t", self.registry)

    def __call__(self, result: str) -> float:
        value = self.registry.get_sample_value("t_token_cache_total", {"result": result})
        return value or 0.0


def test_hits_until_exp_then_verifies_again() -> None:
    lookups, clock = Lookups(), Clock(0.0)
    tokens = VerifiedTokens(codec(), size=10, lookups=lookups.counter, clock=clock)
    token = access()
    first = tokens.verify(token)
    assert tokens.verify(token) is first
    clock.now = float(first.expires_at or 0)  # ``exp`` itself is already too late
    assert tokens.verify(token) is not first
    assert (lookups("hit"), lookups("miss")) == (1, 2)


def test_failures_are_never_cached() -> None:
    lookups = Lookups()
    tokens = VerifiedTokens(codec(), size=10, lookups=lookups.counter)
    forged = access(issuer="someone-else")
    for _ in range(2):
        with pytest.raises(InvalidToken, match="bad_iss"):
            tokens.verify(forged)
    assert (lookups("hit"), lookups("miss")) == (0, 2)


def test_size_zero_caches_nothing() -> None:
    lookups = Lookups()
    tokens = VerifiedTokens(codec(), size=0, lookups=lookups.counter)
    token = access()
    tokens.verify(token)
    tokens.verify(token)
    assert (lookups("hit"), lookups("miss")) == (0, 2)
