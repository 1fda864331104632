"""The whole social login dance over real HTTP: browser ⇄ app ⇄ fake provider."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from eco2.app import create_app
from eco2.domains.auth.cookies import LOGIN_COOKIE
from eco2.domains.auth.services import STATE_PREFIX
from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN, OTHER_ORIGIN
from tests.fakes.db import sql
from tests.fakes.live import Browser, closed_port_url, serve, serve_app, set_cookies
from tests.fakes.oauth import PROVIDERS, FakeOAuthProvider, FakeUser
from tests.fakes.tokens import decode_unverified


def signed_in_user(browser: Browser) -> str:
    access = browser.cookie(ACCESS_COOKIE)
    assert access, "no session cookie"
    return str(decode_unverified(access)[1]["sub"])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_login_dance_lands_home_signed_in(
    provider: str, oauth: FakeOAuthProvider, browser: Browser, live_settings: Settings
) -> None:
    oauth.sign_in_as(
        provider,
        FakeUser(
            id="4242",
            email=f"Me@{provider}.test",
            nickname=f"{provider}사용자",
            picture=f"https://img.test/{provider}.png",
        ),
    )

    landing = await browser.sign_in(provider, origin=FRONTEND_ORIGIN)

    assert landing == f"{FRONTEND_ORIGIN}/#/home"
    visited = [url.split("?")[0] for url, _ in browser.history]
    assert visited == [
        f"{oauth.base_url}/{provider}/authorize",
        f"{browser.api}/api/v1/auth/{provider}/callback",
    ]
    assert browser.cookie(REFRESH_COOKIE)
    me = await browser.get("/api/v1/user/me")
    assert me.status_code == 200, me.text
    assert me.json() | {"last_login_at": None} == {
        "username": f"{provider}사용자",
        "nickname": f"{provider}사용자",
        "phone_number": None,
        "provider": provider,
        "profile_image_url": f"https://img.test/{provider}.png",
        "last_login_at": None,
    }
    characters = await browser.get("/api/v1/user/me/characters")
    assert [c["name"] for c in characters.json()] == ["이코"]
    # the provider account is linked with a lower-cased e-mail, and the login is audited
    user_id = signed_in_user(browser)
    linked = await sql(
        live_settings,
        "SELECT provider, provider_user_id, email FROM auth.linked_accounts WHERE user_id = :u",
        u=user_id,
    )
    assert [tuple(r) for r in linked] == [(provider, "4242", f"me@{provider}.test")]
    audit = await sql(
        live_settings,
        "SELECT provider, ip, user_agent FROM auth.login_audit WHERE user_id = :u",
        u=user_id,
    )
    assert [(r.provider, r.ip) for r in audit] == [(provider, "127.0.0.1")]
    assert audit[0].user_agent.startswith("python-httpx")


async def test_start_login_shape_and_pkce(browser: Browser, live_settings: Settings) -> None:
    response = await browser.start_login("google", origin=FRONTEND_ORIGIN)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"provider", "state", "authorization_url", "expires_at"}
    assert data["provider"] == "google"
    query = parse_qs(urlsplit(data["authorization_url"]).query)
    assert query["state"] == [data["state"]]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{browser.api}/api/v1/auth/google/callback"]
    assert query["scope"] == ["openid email profile"]
    redis = Redis.from_url(live_settings.redis_url or "")
    ttl = await redis.ttl(STATE_PREFIX + data["state"])
    await redis.aclose()
    assert 0 < ttl <= 600


async def test_landing_origin_is_remembered_from_the_start(browser: Browser) -> None:
    assert await browser.sign_in("kakao", origin=OTHER_ORIGIN) == f"{OTHER_ORIGIN}/#/home"


async def test_unknown_frontend_origin_lands_on_the_default(browser: Browser) -> None:
    landing = await browser.sign_in("kakao", origin="https://evil.example")
    assert landing == f"{FRONTEND_ORIGIN}/#/home"


async def test_explicit_default_redirect_uri_is_accepted(browser: Browser) -> None:
    callback = f"{browser.api}/api/v1/auth/naver/callback"
    response = await browser.start_login("naver", redirect_uri=callback)
    assert response.status_code == 200


async def test_registered_alternative_redirect_uri(
    oauth: FakeOAuthProvider, live_settings: Settings
) -> None:
    """An exact entry of ECO2_AUTH_REDIRECT_URIS is used for the whole round trip."""

    def app(url: str) -> Litestar:
        alternative = url.replace("127.0.0.1", "localhost") + "/api/v1/auth/kakao/callback"
        return create_app(
            settings=live_settings.model_copy(
                update={"public_base_url": url, "auth_redirect_uris": [alternative]}
            )
        )

    with serve(app) as api:
        # started on the callback's host: the login cookie is host-only
        api = api.replace("127.0.0.1", "localhost")
        alternative = api + "/api/v1/auth/kakao/callback"
        browser = Browser(api, (FRONTEND_ORIGIN,))
        started = await browser.start_login("kakao", redirect_uri=alternative)
        landing = await browser.navigate(started.json()["data"]["authorization_url"])
        await browser.aclose()

    assert landing == f"{FRONTEND_ORIGIN}/#/home"
    assert browser.history[-1][0].startswith(alternative)
    assert oauth.token_requests[-1]["redirect_uri"] == alternative


async def test_unlisted_redirect_uri_is_refused(browser: Browser) -> None:
    response = await browser.start_login(
        "kakao", redirect_uri="https://evil.example/api/v1/auth/kakao/callback"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_redirect_uri"
    assert response.json()["error"]["field"] == "redirect_uri"


# --- failures: every one is a 302 to <origin>/#/login?error=<code>, never a JSON page -------


async def start_and_authorize(browser: Browser, provider: str, origin: str) -> str:
    """Start a login and let the provider answer; the callback URL it redirects to."""
    started = await browser.start_login(provider, origin=origin)
    consent = await browser.http.get(started.json()["data"]["authorization_url"])
    assert consent.status_code == 302
    return str(consent.headers["location"])


async def test_the_callback_must_come_from_the_browser_that_started(
    api: str, browser: Browser
) -> None:
    """Login CSRF (issue 12, item 1): a ``state`` and a ``code`` from the attacker's own login,
    replayed in the victim's browser, must not sign the victim into the attacker's account."""
    callback = await start_and_authorize(browser, "kakao", FRONTEND_ORIGIN)
    victim = Browser(api, (FRONTEND_ORIGIN,))
    try:
        landing = await victim.navigate(callback)
        assert landing == f"{FRONTEND_ORIGIN}/#/login?error=browser_mismatch"
        assert victim.cookie(ACCESS_COOKIE) is None
        assert victim.cookie(REFRESH_COOKIE) is None
    finally:
        await victim.aclose()


async def test_a_cookieless_start_cannot_finish(browser: Browser) -> None:
    started = await browser.start_login("kakao")
    browser.http.cookies.clear()  # like `curl` without a cookie jar
    consent = await browser.http.get(started.json()["data"]["authorization_url"])
    landing = await browser.navigate(str(consent.headers["location"]))
    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=browser_mismatch"
    assert browser.cookie(ACCESS_COOKIE) is None


async def test_login_cookie_is_short_lived_httponly_and_lax(
    browser: Browser, live_settings: Settings
) -> None:
    started = await browser.start_login("google", origin=FRONTEND_ORIGIN)
    cookie = set_cookies(started)[LOGIN_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/api/v1/auth/"
    assert int(cookie["max-age"]) == live_settings.auth_state_ttl_seconds
    again = await browser.start_login("kakao", origin=FRONTEND_ORIGIN)
    assert set_cookies(again)[LOGIN_COOKIE].value == cookie.value  # one per browser


async def test_two_tabs_of_one_browser_can_sign_in_at_once(browser: Browser) -> None:
    first = await start_and_authorize(browser, "kakao", FRONTEND_ORIGIN)
    second = await start_and_authorize(browser, "google", FRONTEND_ORIGIN)
    assert await browser.navigate(second) == f"{FRONTEND_ORIGIN}/#/home"
    assert await browser.navigate(first) == f"{FRONTEND_ORIGIN}/#/home"


async def test_unknown_state(browser: Browser) -> None:
    landing = await browser.navigate(
        f"{browser.api}/api/v1/auth/kakao/callback?code=abc&state=never-issued"
    )
    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=invalid_state"


async def test_missing_state_and_code(browser: Browser) -> None:
    landing = await browser.navigate(f"{browser.api}/api/v1/auth/kakao/callback")
    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=invalid_state"


async def test_reused_state(browser: Browser) -> None:
    callback = await start_and_authorize(browser, "kakao", OTHER_ORIGIN)
    assert await browser.navigate(callback) == f"{OTHER_ORIGIN}/#/home"
    browser.http.cookies.clear()

    assert await browser.navigate(callback) == f"{FRONTEND_ORIGIN}/#/login?error=invalid_state"
    assert browser.cookie(ACCESS_COOKIE) is None


async def test_callback_for_another_provider(browser: Browser) -> None:
    callback = await start_and_authorize(browser, "kakao", FRONTEND_ORIGIN)
    landing = await browser.navigate(callback.replace("/kakao/callback", "/google/callback"))
    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=invalid_state"
    assert browser.cookie(ACCESS_COOKIE) is None


@pytest.mark.parametrize(
    ("provider", "mode", "code"),
    [
        ("google", "access_denied", "access_denied"),
        ("kakao", "access_denied", "access_denied"),
        ("google", "token_500", "token_exchange_failed"),
        ("google", "userinfo_500", "provider_profile_failed"),
        ("naver", "profile_refused", "provider_error"),
    ],
)
async def test_provider_failures(
    provider: str, mode: str, code: str, oauth: FakeOAuthProvider, browser: Browser
) -> None:
    oauth.fail(provider, mode)
    landing = await browser.sign_in(provider, origin=OTHER_ORIGIN)
    assert landing == f"{OTHER_ORIGIN}/#/login?error={code}"
    assert browser.cookie(ACCESS_COOKIE) is None


async def test_provider_checks_the_pkce_verifier(
    oauth: FakeOAuthProvider, browser: Browser, live_settings: Settings
) -> None:
    """A verifier that does not match the challenge is refused by the provider."""
    started = (await browser.start_login("kakao")).json()["data"]
    redis = Redis.from_url(live_settings.redis_url or "")
    key = STATE_PREFIX + started["state"]
    pending = msgspec.json.decode(await redis.get(key))
    pending["code_verifier"] = "x" * 64
    await redis.set(key, msgspec.json.encode(pending), ex=60)
    await redis.aclose()

    landing = await browser.navigate(started["authorization_url"])

    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=token_exchange_failed"
    assert oauth.token_requests[-1]["code_verifier"] == "x" * 64


async def test_unreachable_provider(live_settings: Settings) -> None:
    """Nothing answers at the token endpoint: still a redirect, never an error page."""
    with closed_port_url() as dead:
        settings = live_settings.model_copy(update={"auth_naver_token_url": f"{dead}/token"})
        with serve_app(settings) as api:
            browser = Browser(api, (FRONTEND_ORIGIN,))
            landing = await browser.sign_in("naver")
            await browser.aclose()
    assert landing == f"{FRONTEND_ORIGIN}/#/login?error=provider_unreachable"


# --- routing errors on the start endpoint (XHR, JSON) ------------------------------------------


async def test_unknown_provider(browser: Browser) -> None:
    response = await browser.start_login("facebook")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_provider"


# --- linking ----------------------------------------------------------------------------------


async def test_same_provider_account_is_the_same_user(
    oauth: FakeOAuthProvider, browser: Browser
) -> None:
    oauth.sign_in_as("kakao", FakeUser(id="77", nickname="첫닉"))
    await browser.sign_in("kakao")
    first = signed_in_user(browser)
    oauth.sign_in_as("kakao", FakeUser(id="77", nickname="바뀐닉"))
    await browser.sign_in("kakao")

    assert signed_in_user(browser) == first
    assert (await browser.get("/api/v1/user/me")).json()["nickname"] == "첫닉"


async def test_concurrent_first_logins_create_one_user(
    oauth: FakeOAuthProvider, api: str, live_settings: Settings
) -> None:
    """The same new account signing in on several devices at once is still one user."""
    oauth.sign_in_as("google", FakeUser(id="g-race", nickname="동시"))
    browsers = [Browser(api, (FRONTEND_ORIGIN,)) for _ in range(6)]

    landings = await asyncio.gather(*(b.sign_in("google") for b in browsers))

    assert landings == [f"{FRONTEND_ORIGIN}/#/home"] * 6
    assert len({signed_in_user(b) for b in browsers}) == 1
    users = await sql(live_settings, "SELECT count(*) FROM users.users")
    assert users[0][0] == 1
    await asyncio.gather(*(b.aclose() for b in browsers))


async def test_verified_email_links_a_second_provider(
    oauth: FakeOAuthProvider, browser: Browser
) -> None:
    oauth.sign_in_as("kakao", FakeUser(id="1", email="same@mail.test", nickname="카카오"))
    oauth.sign_in_as("google", FakeUser(id="g-1", email="SAME@mail.test", nickname="구글"))
    await browser.sign_in("kakao")
    first = signed_in_user(browser)
    await browser.sign_in("google")

    assert signed_in_user(browser) == first
    me = (await browser.get("/api/v1/user/me")).json()
    assert (me["nickname"], me["provider"]) == ("카카오", "google")


async def test_naver_email_is_never_trusted_for_linking(
    oauth: FakeOAuthProvider, browser: Browser
) -> None:
    oauth.sign_in_as("kakao", FakeUser(id="1", email="same@mail.test"))
    oauth.sign_in_as("naver", FakeUser(id="n-1", email="same@mail.test", email_verified=True))
    await browser.sign_in("kakao")
    first = signed_in_user(browser)
    await browser.sign_in("naver")

    assert signed_in_user(browser) != first


async def test_unverified_email_does_not_link(oauth: FakeOAuthProvider, browser: Browser) -> None:
    oauth.sign_in_as("kakao", FakeUser(id="1", email="same@mail.test", email_verified=False))
    oauth.sign_in_as("google", FakeUser(id="g-1", email="same@mail.test"))
    await browser.sign_in("kakao")
    first = signed_in_user(browser)
    await browser.sign_in("google")

    assert signed_in_user(browser) != first


async def test_no_provider_nickname_gets_a_generated_one(
    oauth: FakeOAuthProvider, browser: Browser
) -> None:
    oauth.sign_in_as("naver", FakeUser(id="n-2", nickname=None))
    await browser.sign_in("naver")
    me = (await browser.get("/api/v1/user/me")).json()
    assert me["username"]
    assert 1 <= len(me["nickname"]) <= 20
