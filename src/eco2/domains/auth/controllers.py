"""``/api/v1/auth``: OAuth start/callback, refresh, logout, JWKS, local sign-in."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Request, Response, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect

from eco2.domains.auth.cookies import (
    LOGIN_COOKIE,
    cleared_cookies,
    login_cookie,
    session_cookies,
)
from eco2.domains.auth.deps import Auth
from eco2.domains.auth.schemas import DevLogin, Envelope, LoginStart, ProviderProfile
from eco2.domains.auth.services import LoginFailed, browser_binding
from eco2.domains.users.interface import clean_nickname
from eco2.platform.identity import bearer_or_cookie
from eco2.platform.security import REFRESH_COOKIE
from eco2.registry import API

log = structlog.get_logger(__name__)
ProviderName = Annotated[str, PathParameter(max_length=16)]
JWKS_CACHE = "public, max-age=300, stale-while-revalidate=60"


def _client_ip(request: Request[Any, Any, Any], auth: Auth) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and auth.settings.auth_trust_gateway:
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


@get("/.well-known/jwks.json", summary="Public signing keys (JWKS)")
async def jwks(auth: Auth) -> Response[dict[str, Any]]:
    return Response(auth.jwks(), headers={"Cache-Control": JWKS_CACHE})


@get("/{provider:str}", summary="Start a social login")
async def start_login(
    request: Request[Any, Any, Any],
    auth: Auth,
    provider: ProviderName,
    redirect_uri: Annotated[str | None, QueryParameter(max_length=2048)] = None,
) -> Response[Envelope]:
    origin = request.headers.get("x-frontend-origin")
    binding = browser_binding(request.cookies.get(LOGIN_COOKIE))
    started: LoginStart = await auth.start_login(provider, redirect_uri, origin, binding)
    return Response(
        Envelope(success=True, data=started), cookies=[login_cookie(auth.settings, binding)]
    )


@get("/{provider:str}/callback", summary="OAuth provider callback")
async def callback(
    request: Request[Any, Any, Any],
    auth: Auth,
    provider: ProviderName,
    code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=512)] = None,
    error: Annotated[str | None, QueryParameter(max_length=256)] = None,
) -> Redirect:
    """Always a redirect: a browser navigation must never end on a JSON page."""
    try:
        tokens, origin = await auth.complete_login(
            provider,
            code=code,
            state=oauth_state,
            error=error,
            binding=request.cookies.get(LOGIN_COOKIE),
            ip=_client_ip(request, auth),
            user_agent=request.headers.get("user-agent"),
        )
    except LoginFailed as failed:
        return Redirect(f"{failed.origin}/#/login?error={failed.code}", status_code=302)
    except Exception:  # a provider or dependency failure still lands on the login page
        log.exception("oauth_callback_error", provider=provider)
        origin = auth.settings.default_origin
        return Redirect(f"{origin}/#/login?error=server_error", status_code=302)
    # The login cookie stays until it expires: another tab's login may still need it.
    return Redirect(
        f"{origin}/#/home", status_code=302, cookies=session_cookies(auth.settings, tokens)
    )


@post("/refresh", summary="Rotate the session cookies", status_code=200)
async def refresh(request: Request[Any, Any, Any], auth: Auth) -> Response[Envelope]:
    token = (
        request.cookies.get(REFRESH_COOKIE)
        or request.headers.get("x-refresh-token")
        or bearer_or_cookie(request.headers.get("authorization"), {})
    )
    tokens = await auth.rotate(token)
    return Response(
        Envelope(success=True, data={"expires_in": tokens.access.max_age}),
        cookies=session_cookies(auth.settings, tokens),
    )


@post("/logout", summary="Sign out (always succeeds)", status_code=200)
async def logout(request: Request[Any, Any, Any], auth: Auth) -> Response[Envelope]:
    await auth.logout(
        bearer_or_cookie(request.headers.get("authorization"), request.cookies),
        request.cookies.get(REFRESH_COOKIE) or request.headers.get("x-refresh-token"),
    )
    return Response(
        Envelope(success=True, data={"message": "로그아웃되었습니다."}),
        cookies=cleared_cookies(auth.settings),
    )


@post(
    "/dev/login",
    summary="Local sign-in (ECO2_ENV=local only)",
    status_code=200,
)
async def dev_login(
    request: Request[Any, Any, Any], auth: Auth, data: JSONBody[DevLogin]
) -> Response[Envelope]:
    nickname = clean_nickname(data.nickname)
    user_id = await auth.sign_in(
        ProviderProfile(provider="local", provider_user_id=nickname, nickname=nickname),
        ip=_client_ip(request, auth),
        user_agent=request.headers.get("user-agent"),
    )
    tokens = await auth.open_session(user_id, "local")
    return Response(
        Envelope(success=True, data={"user_id": user_id}),
        cookies=session_cookies(auth.settings, tokens),
    )


def _router(*handlers: HTTPRouteHandler, local_only: bool = False) -> Router:
    return Router(
        f"{API}/auth",
        route_handlers=list(handlers),
        tags=["auth"],
        opt={"local_only": local_only},  # the app mounts local-only routers in local mode only
    )


route_handlers = [
    _router(jwks, start_login, callback, refresh, logout),
    _router(dev_login, local_only=True),
]
