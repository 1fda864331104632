"""``/api/v1/auth``: OAuth start/callback, refresh, logout, JWKS, local sign-in."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Litestar, Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect

from eco2.domains.auth import services
from eco2.domains.auth.cookies import (
    LOGIN_COOKIE,
    cleared_cookies,
    login_cookie,
    session_cookies,
)
from eco2.domains.auth.revocations import Relay
from eco2.domains.auth.schemas import DevLogin, Envelope, LoginStart, ProviderProfile
from eco2.domains.auth.services import LoginFailed
from eco2.domains.users.interface import clean_nickname
from eco2.platform.di import RuntimeDep
from eco2.platform.errors import ServiceUnavailable
from eco2.platform.identity import bearer_or_cookie
from eco2.platform.security import REFRESH_COOKIE
from eco2.registry import API

log = structlog.get_logger(__name__)
TAGS = ["auth"]
ProviderName = Annotated[str, PathParameter(max_length=16)]
JWKS_CACHE = "public, max-age=300, stale-while-revalidate=60"


def _client_ip(request: Request[Any, Any, Any], runtime: RuntimeDep) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and runtime.settings.auth_trust_gateway:
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


@get(f"{API}/auth/.well-known/jwks.json", tags=TAGS, summary="Public signing keys (JWKS)")
async def jwks(runtime: RuntimeDep) -> Response[dict[str, Any]]:
    if runtime.tokens is None:
        raise ServiceUnavailable(code="keys_unavailable")
    return Response(runtime.tokens.keys.jwks(), headers={"Cache-Control": JWKS_CACHE})


@get(f"{API}/auth/{{provider:str}}", tags=TAGS, summary="Start a social login")
async def start_login(
    request: Request[Any, Any, Any],
    runtime: RuntimeDep,
    provider: ProviderName,
    redirect_uri: Annotated[str | None, QueryParameter(max_length=2048)] = None,
) -> Response[Envelope]:
    origin = request.headers.get("x-frontend-origin")
    binding = services.browser_binding(request.cookies.get(LOGIN_COOKIE))
    started: LoginStart = await services.start_login(
        runtime, provider, redirect_uri, origin, binding
    )
    return Response(
        Envelope(success=True, data=started), cookies=[login_cookie(runtime.settings, binding)]
    )


@get(f"{API}/auth/{{provider:str}}/callback", tags=TAGS, summary="OAuth provider callback")
async def callback(
    request: Request[Any, Any, Any],
    runtime: RuntimeDep,
    provider: ProviderName,
    code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=512)] = None,
    error: Annotated[str | None, QueryParameter(max_length=256)] = None,
) -> Redirect:
    """Always a redirect: a browser navigation must never end on a JSON page."""
    try:
        tokens, origin = await services.complete_login(
            runtime,
            provider,
            code=code,
            state=oauth_state,
            error=error,
            binding=request.cookies.get(LOGIN_COOKIE),
            ip=_client_ip(request, runtime),
            user_agent=request.headers.get("user-agent"),
        )
    except LoginFailed as failed:
        return Redirect(f"{failed.origin}/#/login?error={failed.code}", status_code=302)
    except Exception:  # a provider or dependency failure still lands on the login page
        log.exception("oauth_callback_error", provider=provider)
        origin = runtime.settings.default_origin
        return Redirect(f"{origin}/#/login?error=server_error", status_code=302)
    # The login cookie stays until it expires: another tab's login may still need it.
    return Redirect(
        f"{origin}/#/home", status_code=302, cookies=session_cookies(runtime.settings, tokens)
    )


@post(f"{API}/auth/refresh", tags=TAGS, summary="Rotate the session cookies", status_code=200)
async def refresh(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Envelope]:
    token = (
        request.cookies.get(REFRESH_COOKIE)
        or request.headers.get("x-refresh-token")
        or bearer_or_cookie(request.headers.get("authorization"), {})
    )
    tokens = await services.rotate(runtime, token)
    return Response(
        Envelope(success=True, data={"expires_in": tokens.access.max_age}),
        cookies=session_cookies(runtime.settings, tokens),
    )


@post(f"{API}/auth/logout", tags=TAGS, summary="Sign out (always succeeds)", status_code=200)
async def logout(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Envelope]:
    await services.logout(
        runtime,
        bearer_or_cookie(request.headers.get("authorization"), request.cookies),
        request.cookies.get(REFRESH_COOKIE) or request.headers.get("x-refresh-token"),
    )
    return Response(
        Envelope(success=True, data={"message": "로그아웃되었습니다."}),
        cookies=cleared_cookies(runtime.settings),
    )


@post(
    f"{API}/auth/dev/login",
    tags=TAGS,
    summary="Local sign-in (ECO2_ENV=local only)",
    status_code=200,
    opt={"local_only": True},
)
async def dev_login(
    request: Request[Any, Any, Any], runtime: RuntimeDep, data: JSONBody[DevLogin]
) -> Response[Envelope]:
    nickname = clean_nickname(data.nickname)
    user_id = await services.sign_in(
        runtime,
        ProviderProfile(provider="local", provider_user_id=nickname, nickname=nickname),
        ip=_client_ip(request, runtime),
        user_agent=request.headers.get("user-agent"),
    )
    tokens = await services.open_session(runtime, user_id, "local")
    return Response(
        Envelope(success=True, data={"user_id": user_id}),
        cookies=session_cookies(runtime.settings, tokens),
    )


route_handlers = [jwks, start_login, callback, refresh, logout, dev_login]


async def start_revocation_relay(app: Litestar) -> None:
    relay = Relay(app.state.runtime)
    relay.start()
    app.state.revocation_relay = relay


async def stop_revocation_relay(app: Litestar) -> None:
    relay: Relay = app.state.revocation_relay
    await relay.close()


on_startup = [start_revocation_relay]
on_shutdown = [stop_revocation_relay]
