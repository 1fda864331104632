"""JWKS keys (rotation, rate-limited refetch) and the verified-token cache."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eco2.authz.decisions import KeysUnavailable
from eco2.authz.keys import JwksKeys, StaticKeys, key_source
from eco2.authz.metrics import REGISTRY
from eco2.authz.tokens import TokenVerifier
from eco2.platform.security import InvalidToken, KeyRing, generate_private_key
from eco2.settings import Settings
from tests.authz.conftest import access_token, stream_ticket

JWKS_URL = "http://auth.test/api/v1/auth/.well-known/jwks.json"


class JwksServer:
    """An httpx transport serving whatever key ring is current, counting fetches."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json=self.ring.jwks())

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jwks_keys(server: JwksServer, clock: Clock, min_refetch: float = 10.0) -> JwksKeys:
    return JwksKeys(
        JWKS_URL,
        server.client(),
        refresh_seconds=300,
        min_refetch_seconds=min_refetch,
        clock=clock,
    )


async def test_jwks_only_settings_accept_what_serve_issues(ring: KeyRing) -> None:
    """ECO2_REDIS_URL + ECO2_AUTHZ_JWKS_URL alone: the defaults match `eco2 serve`'s."""
    settings = Settings(redis_url="redis://r:6379/0", authz_jwks_url=JWKS_URL)
    server = JwksServer(KeyRing.from_jwks(ring.jwks()))  # public keys only
    keys = key_source(settings, server.client())
    assert isinstance(keys, JwksKeys)
    await keys.fetch("start")
    verifier = TokenVerifier(keys, settings)
    assert (await verifier.verify(access_token(ring, "u-42"))).user_id == "u-42"
    # stream tickets are signed by the ticket key derived from the RSA key: listed beside it
    ticket = await verifier.verify_ticket(stream_ticket(ring, "u-42", "job-7"))
    assert (ticket.user_id, ticket.job_id) == ("u-42", "job-7")


async def test_unknown_kid_triggers_one_rate_limited_refetch(ring: KeyRing) -> None:
    old, new = KeyRing([generate_private_key()]), KeyRing([generate_private_key()])
    server, clock = JwksServer(old), Clock()
    keys = jwks_keys(server, clock)
    await keys.fetch("start")
    verifier = TokenVerifier(keys, Settings(env="local"))
    clock.now += 11
    server.ring = KeyRing([*_keys(old), *_keys(new)])  # rotation: the new key appears
    assert (await verifier.verify(access_token(new, "rotated"))).user_id == "rotated"
    assert server.fetches == 2
    with pytest.raises(InvalidToken, match="unknown_kid"):  # a forged kid right after
        await verifier.verify(access_token(KeyRing([generate_private_key()])))
    assert server.fetches == 2  # rate-limited: no fetch within min_refetch_seconds


def _keys(ring: KeyRing) -> list[Any]:
    return [ring.get(k["kid"]) for k in ring.jwks()["keys"] if k["kty"] == "RSA"]


async def test_no_keys_yet_is_keys_unavailable() -> None:
    verifier = TokenVerifier(StaticKeys(None), Settings(env="local"))
    with pytest.raises(KeysUnavailable):
        await verifier.verify("a.b.c")


async def test_cache_hits_until_exp_and_clears_on_key_change(ring: KeyRing) -> None:
    clock = Clock(0.0)
    keys = StaticKeys(ring)
    verifier = TokenVerifier(keys, Settings(env="local"), clock=clock)
    token = access_token(ring)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # served from the cache
    clock.now = float(first.expires_at or 0) + 1
    assert await verifier.verify(token) is not first  # past exp: verified again
    keys.ring, keys.version = KeyRing([generate_private_key()]), 2
    with pytest.raises(InvalidToken, match="unknown_kid"):  # a removed key stops at once
        await verifier.verify(token)


def token_cache(result: str) -> float:
    return REGISTRY.get_sample_value("eco2_authz_token_cache_total", {"result": result}) or 0.0


async def test_cache_is_bounded(ring: KeyRing) -> None:
    verifier = TokenVerifier(StaticKeys(ring), Settings(env="local"), cache_size=2)
    a, b, c = (access_token(ring, user) for user in "abc")
    for token in (a, b, c):
        await verifier.verify(token)
    hits, misses = token_cache("hit"), token_cache("miss")
    await verifier.verify(c)
    await verifier.verify(b)
    assert token_cache("hit") == hits + 2  # the newest two are kept...
    await verifier.verify(a)
    assert token_cache("miss") == misses + 1  # ...the oldest was dropped


async def test_first_check_fetches_keys_not_loaded_at_start(ring: KeyRing) -> None:
    server, clock = JwksServer(KeyRing.from_jwks(ring.jwks())), Clock()
    keys = jwks_keys(server, clock)  # never fetched: the auth pod was not up yet
    identity = await TokenVerifier(keys, Settings(env="local")).verify(access_token(ring, "u"))
    assert (identity.user_id, server.fetches) == ("u", 1)
