"""Decision logic without gRPC or Redis: every allow/deny rule of the ext_authz contract."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from joserfc import jws

from eco2 import registry
from eco2.authz.decisions import (
    CheckInput,
    Decider,
    Decision,
    KeysUnavailable,
    RevocationStoreUnavailable,
)
from eco2.authz.keys import StaticKeys
from eco2.authz.tokens import TokenVerifier
from eco2.platform import identity
from eco2.platform.errors import error_body
from eco2.platform.security import (
    Identity,
    KeyRing,
    StreamTicket,
    generate_private_key,
    with_ticket,
)
from eco2.settings import Settings
from tests.authz.conftest import access_token, make_codec, stream_ticket
from tests.conftest import FRONTEND_ORIGIN, OTHER_ORIGIN

ME = "/api/v1/user/me"


class FakeRevocations:
    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.down = False

    async def is_revoked(self, ident: Identity) -> bool:
        if self.down:
            raise RevocationStoreUnavailable
        return ident.jti in self.revoked or ident.family_id in self.revoked


class NoKeys:
    async def verify(self, token: str) -> Identity:
        raise KeysUnavailable

    async def verify_ticket(self, token: str) -> StreamTicket:
        raise KeysUnavailable


@pytest.fixture
def revocations() -> FakeRevocations:
    return FakeRevocations()


@pytest.fixture
def decider(ring: KeyRing, revocations: FakeRevocations, authz_settings: Settings) -> Decider:
    verifier = TokenVerifier(StaticKeys(ring), authz_settings)
    return Decider(verifier, revocations, cors_origins=[FRONTEND_ORIGIN])


async def decide(decider: Decider, path: str = ME, method: str = "GET", **headers: str) -> Decision:
    lower = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return await decider.decide(CheckInput(method, path, lower))


def body(decision: Decision) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(decision.body)
    return parsed


async def test_preflight_is_allowed_and_drops_forged_identity(decider: Decider) -> None:
    decision = await decide(decider, method="OPTIONS", x_user_id="victim")
    assert decision.allowed
    assert decision.reason == "preflight"
    assert set(decision.remove_headers) == {"x-user-id", "x-auth-provider"}


def _concrete(pattern: str) -> str:
    return pattern[:-1] + "anything" if pattern.endswith("*") else pattern


@pytest.mark.parametrize("path", [_concrete(p) for p in registry.public_paths()])
async def test_registry_public_paths_need_no_token(decider: Decider, path: str) -> None:
    decision = await decide(decider, path + "?x=1", method="POST", x_user_id="victim")
    assert decision.allowed
    assert decision.reason == "public"
    assert "x-user-id" in decision.remove_headers
    assert not decision.set_headers


async def test_missing_token_is_401_with_the_project_error_shape(decider: Decider) -> None:
    decision = await decide(decider)
    assert (decision.allowed, decision.status, decision.result) == (False, 401, "deny")
    assert body(decision) == error_body("missing_token", "로그인이 필요합니다.")
    assert ("content-type", "application/json") in decision.set_headers


async def test_bearer_token_injects_identity(decider: Decider, ring: KeyRing) -> None:
    token = access_token(ring, "user-7")
    decision = await decide(decider, authorization=f"Bearer {token}", x_user_id="victim")
    assert decision.allowed
    assert decision.reason == "valid"
    headers = dict(decision.set_headers)
    assert headers == {"x-user-id": "user-7", "x-auth-provider": "kakao"}
    # Envoy sets, then removes: the injected headers must not be listed for removal.
    assert not set(decision.remove_headers) & set(headers)


async def test_cookie_token_also_becomes_the_authorization_header(
    decider: Decider, ring: KeyRing
) -> None:
    token = access_token(ring, "user-8")
    decision = await decide(decider, cookie=f"theme=dark; s_access={token}; s_refresh=zzz")
    headers = dict(decision.set_headers)
    assert headers["x-user-id"] == "user-8"
    assert headers["authorization"] == f"Bearer {token}"


def _alg_none(ring: KeyRing) -> str:
    token = access_token(ring)
    _, payload, _ = token.split(".")
    kid = ring.signing_key.kid
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode()
    )
    return f"{header.decode().rstrip('=')}.{payload}."


def _rs256_ticket(ring: KeyRing) -> str:
    """A ticket's claims signed with the access tokens' algorithm and key: a ticket is
    ``Ed25519`` only (the algorithm is pinned per kind of token, RFC 8725 §3.1)."""
    _, payload, _ = stream_ticket(ring).split(".")
    key = ring.signing_key
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    header = {"alg": "RS256", "kid": key.kid, "typ": "stream+jwt"}
    return jws.serialize_compact(header, claims, key, algorithms=["RS256"])


def _refresh(ring: KeyRing) -> str:
    return make_codec(ring).issue("refresh", user_id="u", provider="kakao", family_id="f").value


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda r: access_token(r, access_ttl=-120), "expired"),
        (lambda r: access_token(r, audience="someone-else"), "bad_aud"),
        (lambda r: access_token(r, issuer="evil"), "bad_iss"),
        (_refresh, "bad_typ"),
        (_alg_none, "bad_alg"),
        (lambda r: access_token(KeyRing([generate_private_key()])), "unknown_kid"),
        (lambda r: access_token(r)[:-4] + "AAAA", "bad_signature"),
        (lambda r: "not-a-jwt", "malformed"),
    ],
)
async def test_bad_tokens_are_401(decider: Decider, ring: KeyRing, forge, reason: str) -> None:  # type: ignore[no-untyped-def]
    decision = await decide(decider, authorization=f"Bearer {forge(ring)}")
    assert (decision.status, decision.reason) == (401, reason)
    assert body(decision)["error"]["code"] == "invalid_token"  # type: ignore[index]


STREAM = registry.job_stream_path("scan", "job-1")


async def test_a_stream_ticket_opens_its_job_stream_as_its_owner(
    decider: Decider, ring: KeyRing
) -> None:
    ticketed = with_ticket(STREAM, stream_ticket(ring, "owner-1")) + "&last_event_id=4"
    expired_access = access_token(ring, "owner-1", access_ttl=-120)
    for headers in ({}, {"cookie": f"s_access={expired_access}"}, {"x_user_id": "victim"}):
        decision = await decide(decider, ticketed, **headers)
        assert (decision.allowed, decision.reason) == (True, "ticket"), headers
        assert dict(decision.set_headers) == {"x-user-id": "owner-1"}
        assert decision.remove_headers == ("x-auth-provider",)
    # Valid credentials decide who calls: another user holding the URL stays themselves.
    other = await decide(decider, ticketed, authorization=f"Bearer {access_token(ring, 'u-9')}")
    assert (other.reason, dict(other.set_headers)["x-user-id"]) == ("valid", "u-9")


@pytest.mark.parametrize(
    ("path", "forge", "reason"),
    [
        (registry.job_stream_path("scan", "job-2"), stream_ticket, "ticket_other_path"),
        (registry.job_stream_path("chat", "job-1"), stream_ticket, "ticket_other_path"),
        (ME, stream_ticket, "ticket_other_path"),
        ("/api/v1/scan/job-1/result", stream_ticket, "ticket_other_path"),
        (STREAM, lambda r: stream_ticket(r, lifetime=-120), "ticket_expired"),
        (STREAM, lambda r: stream_ticket(r)[:-4] + "AAAA", "ticket_bad_signature"),
        (STREAM, lambda r: stream_ticket(KeyRing([generate_private_key()])), "ticket_unknown_kid"),
        (STREAM, lambda r: stream_ticket(r, audience="someone-else"), "ticket_bad_aud"),
        (STREAM, lambda r: stream_ticket(r, issuer="evil"), "ticket_bad_iss"),
        (STREAM, access_token, "ticket_bad_typ"),
        (STREAM, _refresh, "ticket_bad_typ"),
        (STREAM, _rs256_ticket, "ticket_bad_alg"),
    ],
)
async def test_bad_stream_tickets_are_401(
    decider: Decider, ring: KeyRing, path: str, forge: Callable[[KeyRing], str], reason: str
) -> None:
    decision = await decide(decider, with_ticket(path, forge(ring)))
    assert (decision.status, decision.reason) == (401, reason)
    assert body(decision)["error"]["code"] == "invalid_ticket"  # type: ignore[index]


async def test_a_stream_ticket_is_never_an_access_token(decider: Decider, ring: KeyRing) -> None:
    ticket = stream_ticket(ring)
    for path in (ME, STREAM):
        for headers in ({"authorization": f"Bearer {ticket}"}, {"cookie": f"s_access={ticket}"}):
            decision = await decide(decider, path, **headers)
            assert (decision.status, decision.reason) == (401, "bad_typ"), (path, headers)


async def test_revoked_token_is_401(
    decider: Decider, ring: KeyRing, revocations: FakeRevocations
) -> None:
    revocations.revoked.add("fam-1")
    decision = await decide(decider, authorization=f"Bearer {access_token(ring)}")
    assert (decision.status, decision.reason) == (401, "token_revoked")


async def test_store_down_fails_closed_with_503(
    decider: Decider, ring: KeyRing, revocations: FakeRevocations
) -> None:
    revocations.down = True
    decision = await decide(decider, authorization=f"Bearer {access_token(ring)}")
    assert (decision.status, decision.result) == (503, "error")
    assert body(decision)["error"]["code"] == "revocation_store_unavailable"  # type: ignore[index]


async def test_store_down_fails_open_when_configured(
    decider: Decider, ring: KeyRing, revocations: FakeRevocations
) -> None:
    revocations.down = True
    decider.fail_open = True
    decision = await decide(decider, authorization=f"Bearer {access_token(ring)}")
    assert decision.allowed
    assert decision.reason == "revocation_unchecked"


async def test_keys_unavailable_is_503(revocations: FakeRevocations) -> None:
    decision = await decide(
        Decider(NoKeys(), revocations, cors_origins=[]), authorization="Bearer x"
    )
    assert (decision.status, decision.reason) == (503, "keys_unavailable")


async def test_denials_carry_credentialed_cors_for_allowed_origins_only(decider: Decider) -> None:
    allowed = dict((await decide(decider, origin=FRONTEND_ORIGIN)).set_headers)
    assert allowed["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert allowed["access-control-allow-credentials"] == "true"
    other = dict((await decide(decider, origin=OTHER_ORIGIN)).set_headers)
    assert "access-control-allow-origin" not in other


def test_identity_header_names_match_the_app_guard() -> None:
    from eco2.authz import decisions

    assert decisions.USER_ID_HEADER == identity.USER_ID_HEADER
    assert decisions.PROVIDER_HEADER == identity.PROVIDER_HEADER
