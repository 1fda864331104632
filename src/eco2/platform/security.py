"""Tokens and request identity, shared by every domain and by the ext_authz server.

RFC 8725 choices: the algorithm is pinned to RS256 (never read from the token to pick a
verifier), every token names a known ``kid``, access and refresh tokens are explicitly typed
(header ``typ`` and claim ``typ``) so neither is accepted as the other, and ``iss``/``aud``/
``exp``/``nbf`` are always required.

A **stream ticket** is a third kind: a capability to read one job's event stream, bound to the
job, its kind and its owner, expiring with the job. Its header ``typ``, claim ``typ``, audience
and algorithm all differ from an access token's, so neither is ever accepted as the other; it
is valid only on the job's stream path (see :class:`StreamTicket`). Every submit signs one,
so tickets are signed with Ed25519 (RFC 9864 ``Ed25519``, a tenth of RS256's CPU) by a key
derived from each RSA signing key (:func:`ticket_key`): whoever holds the RSA key holds its
ticket key, it rotates with it, and the JWKS publishes both public keys.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qs, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry
from joserfc.util import json_b64decode
from redis.asyncio import Redis

ALGORITHM: Final = "RS256"
TICKET_ALGORITHM: Final = "Ed25519"  # RFC 9864: EdDSA with Ed25519, fully specified
TICKET_CURVE: Final = "Ed25519"
_TICKET_KEY_INFO: Final = b"eco2 stream ticket signing key v1"
TokenKind = Literal["access", "refresh"]
HEADER_TYP: Final[dict[TokenKind, str]] = {"access": "at+jwt", "refresh": "rt+jwt"}
TICKET_TYP: Final = "stream"
TICKET_HEADER_TYP: Final = "stream+jwt"
TICKET_AUDIENCE_SUFFIX: Final = "/streams"
TICKET_PARAM: Final = "ticket"  # the query parameter of a ticketed ``stream_url``
ACCESS_COOKIE: Final = "s_access"
REFRESH_COOKIE: Final = "s_refresh"
REVOCATION_CHANNEL: Final = "eco2:revocations"
RSA_KEY_BITS: Final = 2048
_PEM_END = "-----END"


class InvalidToken(Exception):
    """Why a token was refused; ``reason`` is a stable metrics/log label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    provider: str
    jti: str | None = None
    family_id: str | None = None
    expires_at: int | None = None


# --- keys -----------------------------------------------------------------------------------


def generate_private_key() -> RSAKey:
    key = RSAKey.generate_key(RSA_KEY_BITS, private=True)
    key.ensure_kid()
    return key


def split_pems(text: str) -> list[str]:
    """Split concatenated PEM blocks; a block that is not PEM is read as a file path list."""
    if "-----BEGIN" not in text:
        return [Path(p.strip()).read_text() for p in text.split(",") if p.strip()]
    blocks, current = [], []
    for line in text.strip().splitlines():
        current.append(line)
        if line.startswith(_PEM_END):
            blocks.append("\n".join(current) + "\n")
            current = []
    return blocks


def ticket_key(key: RSAKey) -> OKPKey:
    """The Ed25519 key that signs stream tickets beside the private RSA key ``key``: HKDF-SHA256
    of its private exponent, so every process holding the RSA key derives the same one."""
    private = key.private_key
    assert isinstance(private, RSAPrivateKey)
    exponent = private.private_numbers().d
    material = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TICKET_KEY_INFO)
    seed = Ed25519PrivateKey.from_private_bytes(hkdf.derive(material))
    derived = OKPKey.import_key(seed)
    derived.ensure_kid()
    return derived


class KeyRing:
    """Signing and verification keys. The last key signs; every key verifies (rotation).
    Beside each private RSA key, its ticket key (:func:`ticket_key`); a ring of public keys
    (a JWKS) has the tickets' public keys listed with them."""

    def __init__(self, keys: Iterable[RSAKey], ticket_keys: Iterable[OKPKey] = ()) -> None:
        self._keys: dict[str, RSAKey] = {}
        derived: dict[str, OKPKey] = {}  # RSA kid -> its ticket key
        for key in keys:
            key.ensure_kid()
            assert key.kid is not None
            self._keys[key.kid] = key
            if key.is_private:
                derived[key.kid] = ticket_key(key)
        if not self._keys:
            raise ValueError("a key ring needs at least one RSA key")
        self._signing = list(self._keys.values())[-1]
        self._ticket_signing = derived.get(str(self._signing.kid))
        self._tickets = {str(t.kid): t for t in [*ticket_keys, *derived.values()]}

    @classmethod
    def from_pems(cls, pems: Iterable[str]) -> KeyRing:
        return cls(RSAKey.import_key(pem) for pem in pems)

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any]) -> KeyRing:
        entries = jwks.get("keys", [])
        keys = [
            RSAKey.import_key(entry)
            for entry in entries
            if entry.get("kty") == "RSA" and entry.get("alg", ALGORITHM) == ALGORITHM
        ]
        tickets = [
            OKPKey.import_key(entry)
            for entry in entries
            if entry.get("kty") == "OKP"
            and entry.get("crv") == TICKET_CURVE
            and entry.get("alg") == TICKET_ALGORITHM
        ]
        return cls(keys, tickets)

    @property
    def signing_key(self) -> RSAKey:
        return self._signing

    @property
    def can_sign(self) -> bool:
        return self._signing.is_private

    @property
    def ticket_signing_key(self) -> OKPKey:
        if self._ticket_signing is None:
            raise ValueError("a ring of public keys signs no tickets")
        return self._ticket_signing

    def get(self, kid: str) -> RSAKey | None:
        return self._keys.get(kid)

    def ticket(self, kid: str) -> OKPKey | None:
        return self._tickets.get(kid)

    def jwks(self) -> dict[str, Any]:
        keys = [key.as_dict(private=False, alg=ALGORITHM, use="sig") for key in self._keys.values()]
        keys += [
            key.as_dict(private=False, alg=TICKET_ALGORITHM, use="sig")
            for key in self._tickets.values()
        ]
        return {"keys": keys}


# --- tokens ---------------------------------------------------------------------------------

StreamPath = Callable[[str, str], str]
"""Where the stream of a job is served: ``(kind, job_id) -> path``."""


@dataclass(frozen=True, slots=True)
class StreamTicket:
    """A verified stream ticket: ``user_id`` may read the events of job ``job_id`` of ``kind``."""

    user_id: str
    kind: str
    job_id: str

    def opens(self, path: str, stream_path: StreamPath) -> bool:
        """Whether the request path is this job's stream, the one path a ticket is valid on."""
        return path == stream_path(self.kind, self.job_id)

    def identity(self) -> Identity:
        return Identity(user_id=self.user_id, provider="")


def ticket_in_query(query: str) -> str | None:
    """The ``ticket`` parameter of a query string, if any."""
    if TICKET_PARAM not in query:  # the common case costs no parsing
        return None
    values = parse_qs(query).get(TICKET_PARAM)
    return values[0] if values else None


_TICKET_VALUE = re.compile(rf"({TICKET_PARAM}=)[^&\s\"'#]+")


def redact_tickets(text: str) -> str:
    """A stream ticket is a credential: never in a log line or a span, whoever recorded a URL
    with it."""
    return _TICKET_VALUE.sub(r"\1[redacted]", text) if TICKET_PARAM in text else text


def with_ticket(path: str, ticket: str) -> str:
    return f"{path}?{urlencode({TICKET_PARAM: ticket})}"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: str
    jti: str
    expires_at: int
    max_age: int


class TokenCodec:
    """Issues and verifies the project's JWTs."""

    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        audience: str,
        ttl: dict[TokenKind, int],
        leeway: int = 30,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.leeway = leeway

    def issue(
        self,
        kind: TokenKind,
        *,
        user_id: str,
        provider: str,
        family_id: str,
        jti: str | None = None,
        expires_at: int | None = None,
    ) -> IssuedToken:
        """A new token; ``jti``/``expires_at`` re-issue an existing one (same id, same end)."""
        now = int(time.time())
        jti = jti or uuid.uuid4().hex
        max_age = expires_at - now if expires_at is not None else self.ttl[kind]
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + max_age,
            "typ": kind,
            "provider": provider,
            "fid": family_id,
        }
        value = self._sign(HEADER_TYP[kind], claims, ALGORITHM, self.keys.signing_key)
        return IssuedToken(value=value, jti=jti, expires_at=now + max_age, max_age=max_age)

    @property
    def ticket_audience(self) -> str:
        return self.audience + TICKET_AUDIENCE_SUFFIX

    def issue_ticket(
        self, *, user_id: str, kind: str, job_id: str, issued_at: float, expires_at: float
    ) -> str:
        """A stream ticket for the owner of a job, from the job's start (``issued_at``) to its
        end (``expires_at``). The same job gets the same ticket (a replayed submit answers
        exactly as the first): its claims are the job's, and Ed25519 signs deterministically."""
        claims = {
            "iss": self.issuer,
            "aud": self.ticket_audience,
            "sub": user_id,
            "jti": job_id,
            "iat": int(issued_at),
            "nbf": int(issued_at),
            "exp": math.ceil(expires_at),
            "typ": TICKET_TYP,
            "kind": kind,
            "job": job_id,
        }
        return self._sign(TICKET_HEADER_TYP, claims, TICKET_ALGORITHM, self.keys.ticket_signing_key)

    def verify(self, token: str, kind: TokenKind) -> dict[str, Any]:
        """Return the claims of a valid token of ``kind``, else raise :class:`InvalidToken`."""
        claims = self._signed_claims(token, HEADER_TYP[kind], ALGORITHM, self.keys.get)
        self._validate(claims, kind, self.audience)
        return claims

    def verify_ticket(self, token: str) -> StreamTicket:
        """The grant of a valid stream ticket, else raise :class:`InvalidToken`."""
        claims = self._signed_claims(token, TICKET_HEADER_TYP, TICKET_ALGORITHM, self.keys.ticket)
        self._validate(claims, TICKET_TYP, self.ticket_audience)
        kind, job_id = claims.get("kind"), claims.get("job")
        if not isinstance(kind, str) or not isinstance(job_id, str) or not kind or not job_id:
            raise InvalidToken("bad_job")
        return StreamTicket(user_id=str(claims["sub"]), kind=kind, job_id=job_id)

    def _sign(
        self, header_typ: str, claims: dict[str, Any], algorithm: str, key: RSAKey | OKPKey
    ) -> str:
        header = {"alg": algorithm, "kid": key.kid, "typ": header_typ}
        return jws.serialize_compact(header, _json(claims), key, algorithms=[algorithm])

    def _signed_claims(
        self,
        token: str,
        header_typ: str,
        algorithm: str,
        key_of: Callable[[str], RSAKey | OKPKey | None],
    ) -> dict[str, Any]:
        """The claims of ``token`` if ``algorithm`` (pinned per kind of token) and a key of
        ``key_of`` verify it."""
        header = _unverified_header(token)
        if header.get("typ") != header_typ:
            raise InvalidToken("bad_typ")
        if header.get("alg") != algorithm:
            raise InvalidToken("bad_alg")
        key = key_of(str(header.get("kid", "")))
        if key is None:
            raise InvalidToken("unknown_kid")
        try:
            payload = jws.deserialize_compact(token, key, algorithms=[algorithm]).payload
        except JoseError as exc:
            raise InvalidToken("bad_signature") from exc
        return _claims(payload)

    def _validate(self, claims: dict[str, Any], typ: str, audience: str) -> None:
        registry = JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            jti={"essential": True},
            exp={"essential": True},
            nbf={"essential": True},
            typ={"essential": True, "value": typ},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(_claim_reason(exc)) from exc


def _json(claims: dict[str, Any]) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


def _unverified_header(token: str) -> dict[str, Any]:
    """Parse the protected header only to choose the key; nothing in it is trusted."""
    if token.count(".") != 2:
        raise InvalidToken("malformed")
    try:
        header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
    except (ValueError, TypeError, UnicodeError) as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed")
    if "crit" in header or "jku" in header or "x5u" in header or "jwk" in header:
        raise InvalidToken("bad_header")
    return header


def _claims(payload: bytes | None) -> dict[str, Any]:
    try:
        claims = json.loads(payload or b"")
    except ValueError as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("malformed")
    return claims


def _claim_reason(exc: JoseError) -> str:
    name = type(exc).__name__
    if name == "ExpiredTokenError":
        return "expired"
    if name == "InvalidTokenError":
        return "not_yet_valid"
    claim = getattr(exc, "claim", None) or str(exc).split("'")[1:2]
    claim_name = claim if isinstance(claim, str) else (claim[0] if claim else "claims")
    return f"bad_{claim_name}"


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    return Identity(
        user_id=str(claims["sub"]),
        provider=str(claims.get("provider", "")),
        jti=str(claims["jti"]),
        family_id=str(claims["fid"]) if claims.get("fid") else None,
        expires_at=int(claims["exp"]),
    )


# --- revocation -----------------------------------------------------------------------------


def jti_key(jti: str) -> str:
    return f"blacklist:{jti}"


def family_key(family_id: str) -> str:
    return f"blacklist:family:{family_id}"


class LocalRevocations(Protocol):
    """An in-process revoked set (``eco2.platform.revocations.RevocationCache``)."""

    before_sync: SyncHook | None

    def add(self, key: str, ttl_seconds: float) -> None: ...


SyncHook = Callable[[], Awaitable[object]]


class Revocations:
    """Revoked access ``jti``s and token families in Redis, with TTL = remaining lifetime.

    Every revocation is also published on :data:`REVOCATION_CHANNEL` so processes that keep an
    in-memory copy learn about it without polling; ``local``, this process's own copy, gets
    it at once (the request after a logout must already be refused here, even when Redis
    could not be told).
    """

    def __init__(self, redis: Redis, local: LocalRevocations | None = None) -> None:
        self.redis = redis
        self.local = local
        self._outbox_waiting: Callable[[], None] | None = None

    async def revoke_token(self, jti: str, expires_at: int) -> None:
        await self.publish(jti_key(jti), expires_at - int(time.time()))

    async def revoke_family(self, family_id: str, ttl_seconds: int) -> None:
        await self.publish(family_key(family_id), ttl_seconds)

    async def publish(self, key: str, ttl_seconds: int) -> None:
        """``SET key EX ttl`` + ``PUBLISH``; this process enforces the key whatever Redis says."""
        if ttl_seconds <= 0:
            return
        self.remember(key, ttl_seconds)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, b"1", ex=ttl_seconds)
            pipe.publish(REVOCATION_CHANNEL, key)
            await pipe.execute()

    def remember(self, key: str, ttl_seconds: float) -> None:
        if self.local is not None:
            self.local.add(key, ttl_seconds)

    def attach_outbox(self, *, publish: SyncHook, waiting: Callable[[], None]) -> None:
        """A durable outbox of revocations (the auth domain's): ``publish`` publishes what it
        holds and runs each time the local revoked set re-syncs, before the set trusts Redis
        again; ``waiting`` is called when a revocation could not reach Redis."""
        self._outbox_waiting = waiting
        if self.local is not None:
            self.local.before_sync = publish

    def outbox_waiting(self) -> None:
        if self._outbox_waiting is not None:
            self._outbox_waiting()

    async def is_revoked(self, identity: Identity) -> bool:
        return await revoked_in(self.redis, identity)


async def revoked_in(redis: Redis, identity: Identity) -> bool:
    """Whether Redis holds a revocation of the token's ``jti`` or family (one MGET)."""
    keys = [jti_key(identity.jti)] if identity.jti else []
    if identity.family_id:
        keys.append(family_key(identity.family_id))
    if not keys:
        return False
    return any(value is not None for value in await redis.mget(keys))
