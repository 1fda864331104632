"""Session cookies exactly as the web client expects them (contract §1.2)."""

from __future__ import annotations

from litestar.datastructures import Cookie

from eco2.domains.auth.services import SessionTokens
from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.registry import API
from eco2.settings import Settings

LOGIN_COOKIE = "s_login"
# The callback is a top-level navigation to the API origin: SameSite=Lax sends it there.
LOGIN_COOKIE_PATH = f"{API}/auth/"


def _cookie(settings: Settings, key: str, value: str, max_age: int, *, path: str = "/") -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path=path,
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


def login_cookie(settings: Settings, binding: str) -> Cookie:
    """Binds a pending OAuth login to the browser that started it (host-only, short-lived)."""
    return _cookie(
        settings, LOGIN_COOKIE, binding, settings.auth_state_ttl_seconds, path=LOGIN_COOKIE_PATH
    )
