from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec


class LoginStart(msgspec.Struct):
    provider: str
    state: str
    authorization_url: str
    expires_at: datetime


class Envelope(msgspec.Struct):
    """The wrapped shape the web client reads for login start and logout (contract §1.3)."""

    success: bool
    data: Any


class DevLogin(msgspec.Struct, forbid_unknown_fields=True):
    nickname: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PendingLogin(msgspec.Struct):
    """What the one-time OAuth ``state`` remembers until the callback."""

    provider: str
    code_verifier: str
    origin: str
    redirect_uri: str
    browser: str = ""  # SHA-256 of the login cookie of the browser that started the login


class ProviderProfile(msgspec.Struct):
    provider: str
    provider_user_id: str
    email: str | None = None
    email_verified: bool = False
    nickname: str | None = None
    profile_image_url: str | None = None
