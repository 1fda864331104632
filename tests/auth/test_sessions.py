"""Session cookies: refresh with rotation and reuse detection, logout (contract §1.4, §3.3–3.4)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN, dev_login
from tests.fakes.db import sql
from tests.fakes.live import Browser, client_for, closed_port_url, set_cookies
from tests.fakes.tokens import decode_unverified

Client = AsyncTestClient[Litestar]
ME = "/api/v1/user/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def session(client: Client) -> tuple[str, str]:
    access, refresh = client.cookies.get(ACCESS_COOKIE), client.cookies.get(REFRESH_COOKIE)
    assert access
    assert refresh
    return access, refresh


def as_cookies(access: str | None = None, refresh: str | None = None) -> dict[str, str]:
    cookies = {ACCESS_COOKIE: access, REFRESH_COOKIE: refresh}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items() if v)}


async def status_with(client: Client, path: str, access: str, method: str = "GET") -> int:
    client.cookies.clear()
    response = await client.request(method, path, headers={"Authorization": f"Bearer {access}"})
    return response.status_code


async def make_used_long_ago(settings: Settings, refresh_token: str) -> None:
    """Pretend the rotation of ``refresh_token`` happened beyond the reuse grace."""
    jti = decode_unverified(refresh_token)[1]["jti"]
    await sql(
        settings,
        "UPDATE auth.refresh_tokens SET used_at = now() - interval '1 minute' WHERE jti = :j",
        j=jti,
    )


async def test_full_session_over_http(browser: Browser) -> None:
    """Sign in with Kakao, read, refresh, read with the new cookies at once, log out."""
    assert await browser.sign_in("kakao", origin=FRONTEND_ORIGIN) == f"{FRONTEND_ORIGIN}/#/home"
    old_access = browser.cookie(ACCESS_COOKIE)
    assert (await browser.get(ME)).status_code == 200

    refreshed = await browser.post(REFRESH)
    assert refreshed.status_code == 200
    assert browser.cookie(ACCESS_COOKIE) != old_access
    assert (await browser.get(ME)).status_code == 200
    assert (await browser.get("/api/v1/user/me/characters")).status_code == 200

    new_access = browser.cookie(ACCESS_COOKIE)
    logout = await browser.post(LOGOUT)
    assert logout.status_code == 200
    assert logout.json()["success"] is True
    assert browser.cookie(ACCESS_COOKIE) is None
    for token in (old_access, new_access):
        response = await browser.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


# --- refresh --------------------------------------------------------------------------------


async def test_refresh_sets_fresh_cookies_that_work_at_once(client: Client, user_id: str) -> None:
    old_access, old_refresh = session(client)

    response = await client.post(REFRESH)

    assert response.status_code == 200
    cookies = set_cookies(response)
    assert set(cookies) == {ACCESS_COOKIE, REFRESH_COOKIE}
    for name, morsel in cookies.items():
        assert morsel["httponly"] is True, name
        assert morsel["samesite"].lower() == "lax"
        assert morsel["path"] == "/"
        assert not morsel["secure"]  # ECO2_ENV=local
        assert not morsel["domain"]  # host-only unless ECO2_COOKIE_DOMAIN
    assert int(cookies[ACCESS_COOKIE]["max-age"]) == 15 * 60
    assert int(cookies[REFRESH_COOKIE]["max-age"]) == 14 * 24 * 3600
    new_access, new_refresh = session(client)
    assert (new_access, new_refresh) != (old_access, old_refresh)
    claims = decode_unverified(new_access)[1]
    assert claims["sub"] == user_id
    assert claims["fid"] == decode_unverified(old_refresh)[1]["fid"]  # same family
    assert (await client.get(ME)).status_code == 200


@pytest.mark.parametrize("header", ["X-Refresh-Token", "Authorization"])
async def test_refresh_token_in_a_header(client: Client, user_id: str, header: str) -> None:
    _, refresh = session(client)
    client.cookies.clear()
    value = f"Bearer {refresh}" if header == "Authorization" else refresh
    response = await client.post(REFRESH, headers={header: value})
    assert response.status_code == 200
    assert set(set_cookies(response)) == {ACCESS_COOKIE, REFRESH_COOKIE}


@pytest.mark.parametrize("case", ["none", "garbage", "access_as_refresh"])
async def test_refresh_refused(client: Client, user_id: str, case: str) -> None:
    access, _ = session(client)
    client.cookies.clear()
    token = {"none": None, "garbage": "not.a.jwt", "access_as_refresh": access}[case]
    response = await client.post(REFRESH, headers=as_cookies(refresh=token))
    assert response.status_code == 401
    assert "error" in response.json()
    assert not set_cookies(response)


async def test_reuse_within_the_grace_gets_the_same_successor(client: Client, user_id: str) -> None:
    """Parallel 401s in one browser send the same refresh cookie several times: not theft, and
    each gets the successor the first rotation made (the family does not fork)."""
    _, first = session(client)
    assert (await client.post(REFRESH)).status_code == 200
    _, successor = session(client)
    client.cookies.clear()

    again = await client.post(REFRESH, headers=as_cookies(refresh=first))

    assert again.status_code == 200
    _, handed_out = session(client)
    assert jti(handed_out) == jti(successor)
    assert (await client.get(ME)).status_code == 200


def jti(token: str) -> str:
    return str(decode_unverified(token)[1]["jti"])


async def test_parallel_reuses_never_fork_the_family(api: str, live_settings: Settings) -> None:
    """20 parallel reuses of one refresh token (issue 12, item 2): one family, one successor
    id handed to all of them, at most one live (unused, unrevoked) refresh token after."""
    async with httpx.AsyncClient(base_url=api) as http:
        signed_in = await http.post("/api/v1/auth/dev/login", json={"nickname": "탭20개"})
        user_id = signed_in.json()["data"]["user_id"]
        refresh = http.cookies[REFRESH_COOKIE]
        http.cookies.clear()
        responses = await asyncio.gather(
            *(http.post(REFRESH, headers=as_cookies(refresh=refresh)) for _ in range(20))
        )
    assert [r.status_code for r in responses] == [200] * 20
    successors = {jti(set_cookies(r)[REFRESH_COOKIE].value) for r in responses}
    assert len(successors) == 1
    rows = await sql(
        live_settings,
        "SELECT family_id, jti, used_at IS NULL AND revoked_at IS NULL AS live"
        " FROM auth.refresh_tokens WHERE user_id = :u",
        u=user_id,
    )
    assert len({r.family_id for r in rows}) == 1
    assert [r.jti for r in rows if r.live] == list(successors)


async def test_concurrent_refreshes_with_one_cookie_all_succeed(
    client: Client, user_id: str
) -> None:
    _, refresh = session(client)
    client.cookies.clear()
    responses = await asyncio.gather(
        *(client.post(REFRESH, headers=as_cookies(refresh=refresh)) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5


async def test_reuse_after_the_grace_revokes_the_family(
    client: Client, user_id: str, settings: Settings
) -> None:
    access0, refresh0 = session(client)
    assert (await client.post(REFRESH)).status_code == 200
    access1, refresh1 = session(client)
    await make_used_long_ago(settings, refresh0)
    client.cookies.clear()

    stolen = await client.post(REFRESH, headers=as_cookies(refresh=refresh0))

    assert stolen.status_code == 401
    assert stolen.json()["error"]["code"] == "refresh_token_reused"
    legit = await client.post(REFRESH, headers=as_cookies(refresh=refresh1))
    assert legit.status_code == 401  # the whole family is gone, the newest token too
    for access in (access0, access1):
        assert await status_with(client, ME, access) == 401
    revoked = await sql(
        settings,
        "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = :u AND revoked_at IS NULL",
        u=user_id,
    )
    assert revoked[0][0] == 0


async def test_reuse_grace_is_the_only_leniency(
    client: Client, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from eco2.domains.auth import services

    monkeypatch.setattr(services, "REFRESH_REUSE_GRACE", timedelta(0))
    access0, refresh0 = session(client)
    assert (await client.post(REFRESH)).status_code == 200
    client.cookies.clear()
    assert (await client.post(REFRESH, headers=as_cookies(refresh=refresh0))).status_code == 401
    assert await status_with(client, ME, access0) == 401


async def test_other_sessions_survive_a_family_revocation(
    client: Client, user_id: str, settings: Settings
) -> None:
    """Reuse revokes one family (one device), not every session of the user."""
    other_access, _ = session(client)
    await dev_login(client)  # same user, a second device
    access0, refresh0 = session(client)
    assert (await client.post(REFRESH)).status_code == 200
    await make_used_long_ago(settings, refresh0)
    client.cookies.clear()
    assert (await client.post(REFRESH, headers=as_cookies(refresh=refresh0))).status_code == 401

    assert await status_with(client, ME, access0) == 401
    assert await status_with(client, ME, other_access) == 200


# --- logout ---------------------------------------------------------------------------------


def assert_cleared(response: object) -> None:
    cookies = set_cookies(response)  # type: ignore[arg-type]
    assert set(cookies) == {ACCESS_COOKIE, REFRESH_COOKIE}
    for morsel in cookies.values():
        assert morsel.value in ("", '""')
        assert int(morsel["max-age"]) == 0


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        {"Cookie": f"{ACCESS_COOKIE}=garbage; {REFRESH_COOKIE}=also.garbage.x"},
        {"Authorization": "Bearer nonsense"},
    ],
    ids=["no-cookies", "garbage-cookies", "garbage-bearer"],
)
async def test_logout_always_succeeds(client: Client, cookies: dict[str, str]) -> None:
    response = await client.post(LOGOUT, headers=cookies)
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert_cleared(response)


async def test_logout_revokes_the_session(client: Client, user_id: str, settings: Settings) -> None:
    access, refresh = session(client)

    response = await client.post(LOGOUT)

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert_cleared(response)
    assert client.cookies.get(ACCESS_COOKIE) is None
    assert await status_with(client, ME, access) == 401
    assert (await client.post(REFRESH, headers=as_cookies(refresh=refresh))).status_code == 401
    redis = Redis.from_url(settings.redis_url or "")
    ttl = await redis.ttl(f"blacklist:{decode_unverified(access)[1]['jti']}")
    await redis.aclose()
    assert 0 < ttl <= 15 * 60
    # logging out again with the dead session is still fine
    again = await client.post(LOGOUT, headers=as_cookies(access, refresh))
    assert again.status_code == 200


async def test_logout_with_only_the_refresh_cookie_ends_the_family(
    client: Client, user_id: str
) -> None:
    access, refresh = session(client)
    client.cookies.clear()
    assert (await client.post(LOGOUT, headers=as_cookies(refresh=refresh))).status_code == 200
    assert await status_with(client, ME, access) == 401


async def test_logout_succeeds_and_refresh_fails_closed_without_redis(
    client: Client, user_id: str, settings: Settings
) -> None:
    """A Redis outage must not break logout (the client would loop) nor let a refresh through."""
    access, refresh = session(client)
    with closed_port_url() as dead:
        no_redis = settings.model_copy(update={"redis_url": dead.replace("http", "redis")})
        async with client_for(no_redis) as down:
            refreshed = await down.post(REFRESH, headers=as_cookies(refresh=refresh))
            logout = await down.post(LOGOUT, headers=as_cookies(access, refresh))
    assert refreshed.status_code == 503
    assert logout.status_code == 200
    assert logout.json()["success"] is True
    assert_cleared(logout)
    # The database half of the logout held: once Redis is back the refresh token is dead.
    client.cookies.clear()
    after = await client.post(REFRESH, headers=as_cookies(refresh=refresh))
    assert after.status_code == 401
