"""Session cookies exactly as the web client expects them (contract §1.2)."""

from __future__ import annotations

from litestar.datastructures import Cookie

from eco2.domains.auth.services import SessionTokens
from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings


def _cookie(settings: Settings, key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path="/",
        domain=settings.cookie_domain,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def session_cookies(settings: Settings, tokens: SessionTokens) -> list[Cookie]:
    return [
        _cookie(settings, ACCESS_COOKIE, tokens.access.value, tokens.access.max_age),
        _cookie(settings, REFRESH_COOKIE, tokens.refresh.value, tokens.refresh.max_age),
    ]


def cleared_cookies(settings: Settings) -> list[Cookie]:
    return [_cookie(settings, name, "", 0) for name in (ACCESS_COOKIE, REFRESH_COOKIE)]
