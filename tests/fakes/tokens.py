"""Hand-made JWTs for negative tests: any header, any claims, any (or no) signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from joserfc import jws
from joserfc.jwk import RSAKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def access_claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    """Claims of a valid access token as the app issues them (``None`` drops a claim)."""
    now = int(time.time())
    claims = {
        "iss": "eco2",
        "aud": "eco2-api",
        "sub": user_id,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "typ": "access",
        "provider": "local",
        "fid": uuid.uuid4().hex,
    } | overrides
    return {k: v for k, v in claims.items() if v is not None}


def import_key(pem: str) -> RSAKey:
    """A PEM as the app's key ring loads it (``kid`` = RFC 7638 thumbprint)."""
    key = RSAKey.import_key(pem)
    key.ensure_kid()
    return key


def rs256(key: RSAKey, claims: dict[str, Any], **header: Any) -> str:
    """Signed with ``key``; the header defaults to what the app sends for access tokens.

    A header value of ``None`` drops that header.
    """
    protected = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"} | header
    protected = {k: v for k, v in protected.items() if v is not None}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jws.serialize_compact(protected, payload, key, algorithms=["RS256"])


def unsigned(claims: dict[str, Any], **header: Any) -> str:
    """``alg: none`` with an empty signature."""
    return f"{segment({'alg': 'none', 'typ': 'at+jwt'} | header)}.{segment(claims)}."


def hs256(secret: bytes, claims: dict[str, Any], **header: Any) -> str:
    """HMAC-signed: the classic RS256→HS256 confusion attack when ``secret`` is a public key."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'at+jwt'} | header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def replace_payload(token: str, claims: dict[str, Any]) -> str:
    """Keep header and signature, swap the payload (a tampered token)."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims)}.{signature}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")

    def part(s: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # type: ignore[no-any-return]

    return part(header), part(payload)
