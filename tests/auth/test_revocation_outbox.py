"""Revocations outlive a Redis outage: a logout recorded while Redis is down is published when
it is back, and a process that re-syncs its revoked set publishes it before trusting Redis, so
the logged-out access token is never accepted again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from eco2.platform.embedded import EmbeddedServer, start_valkey
from eco2.platform.security import ACCESS_COOKIE, REFRESH_COOKIE
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.db import sql
from tests.fakes.live import client_for

ME = "/api/v1/user/me"
LOGOUT = "/api/v1/auth/logout"


class OwnRedis:
    """A Redis of the test's own, to stop and start again on the same port."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server: EmbeddedServer = start_valkey(tmp_path)
        self.port = int(self.server.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = start_valkey(self.tmp_path, port=self.port)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[OwnRedis]:
    own = OwnRedis(tmp_path)
    yield own
    own.stop()


@pytest.fixture
def own(settings: Settings, redis: OwnRedis) -> Settings:
    return settings.model_copy(update={"redis_url": redis.server.url})


async def outbox(settings: Settings) -> int:
    return int((await sql(settings, "SELECT count(*) FROM auth.revocation_outbox"))[0][0])


async def test_redis_down_logout_redis_back_the_old_access_token_is_refused(
    settings: Settings, own: Settings, redis: OwnRedis
) -> None:
    async with client_for(own) as first:
        await dev_login(first)
        access = first.cookies[ACCESS_COOKIE]
        refresh = first.cookies[REFRESH_COOKIE]
        bearer = {"Authorization": f"Bearer {access}"}
        assert (await first.get(ME, headers=bearer)).status_code == 200

        redis.stop()
        first.cookies.clear()
        cookies = {"Cookie": f"{ACCESS_COOKIE}={access}; {REFRESH_COOKIE}={refresh}"}
        logout = await first.post(LOGOUT, headers=cookies)
        assert logout.status_code == 200
        assert await outbox(settings) == 2  # the family and the access token, durably
    # The process that logged out is gone before Redis returns: nobody has told Redis.
    redis.start()
    async with client_for(own) as second:
        refused = await second.get(ME, headers=bearer)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_revoked"
        assert await outbox(settings) == 0  # published on the way to trusting Redis
        refreshed = await second.post("/api/v1/auth/refresh", headers={"X-Refresh-Token": refresh})
        assert refreshed.status_code == 401


async def test_the_process_that_logged_out_publishes_once_redis_is_back(
    settings: Settings, own: Settings, redis: OwnRedis
) -> None:
    async with client_for(own) as first, client_for(own) as other:
        await dev_login(first)
        bearer = {"Authorization": f"Bearer {first.cookies[ACCESS_COOKIE]}"}
        redis.stop()
        first.cookies.clear()
        assert (await first.post(LOGOUT, headers=bearer)).status_code == 200
        redis.start()
        for _ in range(50):  # the relay retries every second until Redis answers
            if await outbox(settings) == 0:
                break
            await asyncio.sleep(0.1)
        assert await outbox(settings) == 0
        await asyncio.sleep(1.0)  # every process's revoked set is back in sync
        for app in (first, other):
            assert (await app.get(ME, headers=bearer)).status_code == 401
