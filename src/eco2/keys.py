"""Signing keys: from ``ECO2_AUTH_SIGNING_KEYS`` or, in local mode, a key kept in the data dir."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from eco2.platform.security import KeyRing, TokenCodec, generate_private_key, split_pems
from eco2.settings import Settings

KEYS_DIR = "keys"


def keys_dir(settings: Settings) -> Path:
    return settings.data_dir / KEYS_DIR


def write_new_key(directory: Path) -> Path:
    """Create a new RSA key; file names sort by creation time so the newest signs."""
    directory.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = directory / f"{stamp}-{key.kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.as_pem(private=True))
    return path


def local_key_files(settings: Settings, *, create: bool) -> list[Path]:
    directory = keys_dir(settings)
    files = sorted(directory.glob("*.pem")) if directory.exists() else []
    if not files and create:
        files = [write_new_key(directory)]
    return files


def load_key_ring(settings: Settings) -> KeyRing | None:
    """The configured keys; in local mode a generated key if none is configured."""
    if settings.auth_signing_keys:
        return KeyRing.from_pems(split_pems(settings.auth_signing_keys))
    files = local_key_files(settings, create=settings.env == "local")
    if not files:
        return None
    return KeyRing.from_pems(p.read_text() for p in files)


def token_codec(ring: KeyRing, settings: Settings) -> TokenCodec:
    """The codec for ``ring`` with the configured issuer, audience, lifetimes and leeway."""
    return TokenCodec(
        ring,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl={
            "access": settings.auth_access_ttl_seconds,
            "refresh": settings.auth_refresh_ttl_seconds,
        },
        leeway=settings.auth_leeway_seconds,
    )
