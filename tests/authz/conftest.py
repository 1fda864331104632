"""Shared pieces of the authz tests: a key ring, token factories, settings."""

from __future__ import annotations

import time

import pytest

from eco2.platform.security import KeyRing, TokenCodec, generate_private_key
from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    return KeyRing([generate_private_key()])


def make_codec(ring: KeyRing, *, access_ttl: int = 900, **overrides: str) -> TokenCodec:
    """A codec like the app's with default settings; override iss/aud to forge bad tokens."""
    defaults = Settings(env="local")
    return TokenCodec(
        ring,
        issuer=overrides.get("issuer", defaults.auth_issuer),
        audience=overrides.get("audience", defaults.auth_audience),
        ttl={"access": access_ttl, "refresh": defaults.auth_refresh_ttl_seconds},
    )


def access_token(
    ring: KeyRing, user_id: str = "u-1", *, access_ttl: int = 900, **overrides: str
) -> str:
    return (
        make_codec(ring, access_ttl=access_ttl, **overrides)
        .issue("access", user_id=user_id, provider="kakao", family_id="fam-1")
        .value
    )


def stream_ticket(
    ring: KeyRing,
    user_id: str = "u-1",
    job_id: str = "job-1",
    *,
    kind: str = "scan",
    lifetime: float = 300,
    **overrides: str,
) -> str:
    """A stream ticket as the scan/chat services issue it (``lifetime`` < 0: expired)."""
    now = time.time()
    return make_codec(ring, **overrides).issue_ticket(
        user_id=user_id,
        kind=kind,
        job_id=job_id,
        issued_at=min(now, now + lifetime) - 60,
        expires_at=now + lifetime,
    )


@pytest.fixture
def authz_settings() -> Settings:
    return Settings(env="local", redis_url="redis://127.0.0.1:1/0", cors_origins=[FRONTEND_ORIGIN])
