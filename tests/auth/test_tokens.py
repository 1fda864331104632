"""The request-identity guard: every malformed, forged or misused token is a 401 (RFC 8725)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from eco2.platform.revocations import ENFORCEMENT_BOUND_SECONDS, RevocationCache
from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE, Revocations, generate_private_key
from eco2.settings import Settings
from tests.fakes import tokens
from tests.fakes.live import client_for, closed_port_url
from tests.fakes.tokens import access_claims, decode_unverified, import_key, rs256

Client = AsyncTestClient[Litestar]
ME = "/api/v1/user/me"
OTHER_KEY = generate_private_key()


@pytest.fixture(scope="module")
def key(signing_key_pem: str) -> RSAKey:
    return import_key(signing_key_pem)


async def me_with(client: Client, token: str, *, scheme: str = "Bearer") -> int:
    client.cookies.clear()
    response = await client.get(ME, headers={"Authorization": f"{scheme} {token}"})
    if response.status_code == 401:
        assert response.json()["error"]["code"] in {"invalid_token", "token_revoked"}
    return response.status_code


def public_pem(key: RSAKey) -> bytes:
    return key.as_pem(private=False)


Forge = Callable[[RSAKey, str], str]
FORGED: dict[str, Forge] = {
    "alg_none": lambda k, u: tokens.unsigned(access_claims(u), kid=k.kid),
    "alg_none_with_signature": lambda k, u: (
        tokens.unsigned(access_claims(u), kid=k.kid) + rs256(k, access_claims(u)).split(".")[2]
    ),
    "hs256_with_public_key": lambda k, u: tokens.hs256(public_pem(k), access_claims(u), kid=k.kid),
    "wrong_iss": lambda k, u: rs256(k, access_claims(u, iss="someone-else")),
    "wrong_aud": lambda k, u: rs256(k, access_claims(u, aud="another-api")),
    "claim_typ_refresh": lambda k, u: rs256(k, access_claims(u, typ="refresh")),
    "header_typ_refresh": lambda k, u: rs256(k, access_claims(u), typ="rt+jwt"),
    "header_typ_plain_jwt": lambda k, u: rs256(k, access_claims(u), typ="JWT"),
    "header_typ_missing": lambda k, u: rs256(k, access_claims(u), typ=None),
    "expired": lambda k, u: rs256(
        k, access_claims(u, iat=int(time.time()) - 3600, exp=int(time.time()) - 120)
    ),
    "future_nbf": lambda k, u: rs256(k, access_claims(u, nbf=int(time.time()) + 300)),
    "unknown_kid": lambda k, u: rs256(OTHER_KEY, access_claims(u)),
    "missing_kid": lambda k, u: rs256(k, access_claims(u), kid=None),
    "other_key_known_kid": lambda k, u: rs256(OTHER_KEY, access_claims(u), kid=k.kid),
    "embedded_jwk": lambda k, u: rs256(
        OTHER_KEY, access_claims(u), jwk=OTHER_KEY.as_dict(private=False)
    ),
    "missing_exp": lambda k, u: rs256(k, access_claims(u, exp=None)),
    "missing_jti": lambda k, u: rs256(k, access_claims(u, jti=None)),
    "missing_aud": lambda k, u: rs256(k, access_claims(u, aud=None)),
    "tampered_payload": lambda k, u: tokens.replace_payload(
        rs256(k, access_claims("00000000-0000-0000-0000-000000000000")), access_claims(u)
    ),
    "garbage": lambda k, u: "garbage",
    "three_garbage_parts": lambda k, u: "a.b.c",
    "payload_not_json": lambda k, u: rs256(k, {}).split(".")[0] + ".bm90IGpzb24." + "c2ln",
}


@pytest.mark.parametrize("case", sorted(FORGED))
async def test_forged_tokens_are_refused(
    case: str, client: Client, user_id: str, key: RSAKey
) -> None:
    token = FORGED[case](key, user_id)
    assert await me_with(client, token) == 401


async def test_a_well_formed_token_is_accepted(client: Client, user_id: str, key: RSAKey) -> None:
    """The control for the cases above: the same forging code, done right, passes."""
    assert await me_with(client, rs256(key, access_claims(user_id))) == 200
    assert await me_with(client, rs256(key, access_claims(user_id)), scheme="bearer") == 200


@pytest.mark.parametrize("skew", [-20, 20])
async def test_small_clock_skew_is_tolerated(
    client: Client, user_id: str, key: RSAKey, skew: int
) -> None:
    now = int(time.time())
    claims = (
        access_claims(user_id, nbf=now + 20) if skew > 0 else access_claims(user_id, exp=now - 20)
    )
    assert await me_with(client, rs256(key, claims)) == 200


async def test_missing_token(client: Client) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"
    assert (await client.get(ME, headers={"Authorization": "Bearer "})).status_code == 401
    assert (await client.get(ME, headers={"Authorization": "Basic dTpw"})).status_code == 401


async def test_issued_tokens(client: Client, user_id: str, key: RSAKey) -> None:
    access, refresh = client.cookies[ACCESS_COOKIE], client.cookies[REFRESH_COOKIE]
    for token, kind, typ, ttl in [
        (access, "access", "at+jwt", 15 * 60),
        (refresh, "refresh", "rt+jwt", 14 * 24 * 3600),
    ]:
        header, claims = decode_unverified(token)
        assert header == {"alg": "RS256", "kid": key.kid, "typ": typ}
        assert {"iss", "aud", "sub", "jti", "iat", "nbf", "exp", "provider", "typ"} <= set(claims)
        assert (claims["iss"], claims["aud"], claims["sub"]) == ("eco2", "eco2-api", user_id)
        assert (claims["typ"], claims["provider"]) == (kind, "local")
        assert claims["exp"] - claims["iat"] == ttl


async def test_refresh_token_is_not_an_access_token(client: Client, user_id: str) -> None:
    refresh = client.cookies[REFRESH_COOKIE]
    assert await me_with(client, refresh) == 401
    client.cookies.clear()
    response = await client.get(ME, headers={"Cookie": f"{ACCESS_COOKIE}={refresh}"})
    assert response.status_code == 401


async def test_bearer_header_and_cookie_both_work(client: Client, user_id: str) -> None:
    access = client.cookies[ACCESS_COOKIE]
    assert (await client.get(ME)).status_code == 200
    assert await me_with(client, access) == 200


async def await_synced(client: Client) -> None:
    """Until the app's revoked set has subscribed and loaded (from then on checks are local)."""
    cache: RevocationCache = client.app.state.identity_resolver.revocations
    assert await asyncio.to_thread(client.blocking_portal.call, cache.wait_synced, 5.0)


def token_cache(result: str) -> float:
    return REGISTRY.get_sample_value("eco2_token_cache_total", {"result": result}) or 0.0


@pytest.mark.parametrize("what", ["jti", "family"])
async def test_a_revocation_by_another_process_is_enforced_within_the_bound(
    what: str, client: Client, user_id: str, key: RSAKey, settings: Settings
) -> None:
    claims: dict[str, Any] = access_claims(user_id)
    token = rs256(key, claims)
    await await_synced(client)  # so the refusal has to come through pub/sub
    assert await me_with(client, token) == 200
    redis = Redis.from_url(settings.redis_url or "")  # its own client, as another pod has
    if what == "jti":
        await Revocations(redis).revoke_token(claims["jti"], claims["exp"])
    else:
        await Revocations(redis).revoke_family(claims["fid"], 60)
    await redis.aclose()
    started = time.monotonic()
    while await me_with(client, token) == 200:
        assert time.monotonic() - started < ENFORCEMENT_BOUND_SECONDS
        await asyncio.sleep(0.01)


async def test_a_logout_is_enforced_at_once_by_the_same_process(
    client: Client, user_id: str
) -> None:
    await await_synced(client)  # checks are local: only the local set can refuse at once
    access = client.cookies[ACCESS_COOKIE]
    assert (await client.post("/api/v1/auth/logout")).status_code == 200
    assert await me_with(client, access) == 401  # no waiting for the pub/sub echo


async def test_a_cached_token_is_refused_once_expired(
    user_id: str, key: RSAKey, settings: Settings
) -> None:
    no_leeway = settings.model_copy(update={"auth_leeway_seconds": 0})
    async with client_for(no_leeway) as client:
        expires_at = int(time.time()) + 2
        token = rs256(key, access_claims(user_id, exp=expires_at))
        assert await me_with(client, token) == 200
        hits = token_cache("hit")
        assert await me_with(client, token) == 200
        assert token_cache("hit") == hits + 1  # no signature check the second time
        await asyncio.sleep(expires_at - time.time() + 0.05)
        assert await me_with(client, token) == 401


async def test_unreachable_revocation_store_fails_closed(
    user_id: str, key: RSAKey, settings: Settings
) -> None:
    """Revocations that cannot be checked may exist: refuse (503, never 403 or 200)."""
    with closed_port_url() as dead:
        no_redis = settings.model_copy(update={"redis_url": dead.replace("http", "redis")})
        async with client_for(no_redis) as client:
            assert await me_with(client, rs256(key, access_claims(user_id))) == 503
