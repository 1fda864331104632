"""Per-user limits on what costs money or memory (issue 12, item 4): scans (sync and job share
one budget), presigns and chat messages; 429 + Retry-After + a code; only accepted requests
count."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from eco2.platform.errors import TooManyRequests
from eco2.platform.ratelimit import Limit, limited
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.scan.conftest import IMAGE, scan_settings

Client = AsyncTestClient[Litestar]
LIMIT = 3
WINDOW = 3600


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(
        base_settings,
        scan_rate_limit=LIMIT,
        image_presign_rate_limit=LIMIT,
        chat_rate_limit=LIMIT,
        scan_rate_window_seconds=WINDOW,
        image_presign_rate_window_seconds=WINDOW,
        chat_rate_window_seconds=WINDOW,
    )


def assert_limited(response: Any, code: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW


async def test_sync_and_job_scans_share_one_budget(client: Client) -> None:
    await dev_login(client)
    scan = {"image_url": IMAGE, "user_input": "우유팩"}
    assert (await client.post("/api/v1/scan/classify", json=scan)).status_code == 200
    assert (await client.post("/api/v1/scan", json=scan)).status_code == 202
    assert (await client.post("/api/v1/scan/classify", json=scan)).status_code == 200
    assert_limited(await client.post("/api/v1/scan", json=scan), "scan_rate_limited")
    assert_limited(await client.post("/api/v1/scan/classify", json=scan), "scan_rate_limited")
    await dev_login(client, "다른사람")  # per user
    assert (await client.post("/api/v1/scan/classify", json=scan)).status_code == 200


async def test_refused_scans_do_not_use_the_budget(client: Client) -> None:
    await dev_login(client)
    for _ in range(LIMIT + 2):
        bad = await client.post("/api/v1/scan", json={"image_url": "https://evil.example/x.png"})
        assert bad.status_code == 422
    for _ in range(LIMIT):
        ok = await client.post("/api/v1/scan/classify", json={"image_url": IMAGE})
        assert ok.status_code == 200, ok.text


async def test_presigns_are_limited_per_user(client: Client) -> None:
    await dev_login(client)
    presign = {"filename": "a.png", "content_type": "image/png"}
    for _ in range(LIMIT + 2):  # unsupported types are refused and do not count
        refused = await client.post("/api/v1/images/scan", json={"content_type": "text/html"})
        assert refused.status_code == 422
    for _ in range(LIMIT):
        assert (await client.post("/api/v1/images/scan", json=presign)).status_code == 200
    assert_limited(await client.post("/api/v1/images/chat", json=presign), "presign_rate_limited")


async def test_chat_messages_rejected_with_422_do_not_use_the_limit(client: Client) -> None:
    await dev_login(client)
    chat = (await client.post("/api/v1/chat", json={})).json()["id"]
    for _ in range(LIMIT + 2):
        empty = await client.post(f"/api/v1/chat/{chat}/messages", json={"message": "  "})
        assert empty.status_code == 422
        foreign = await client.post(
            "/api/v1/chat/messages",
            json={"message": "", "temperature": 0.2, "image_url": "https://evil.example/x.png"},
        )
        assert foreign.status_code == 422
    for _ in range(LIMIT):
        accepted = await client.post(f"/api/v1/chat/{chat}/messages", json={"message": "캔"})
        assert accepted.status_code == 202, accepted.text
    assert_limited(
        await client.post(f"/api/v1/chat/{chat}/messages", json={"message": "캔"}),
        "chat_rate_limited",
    )


async def test_no_window_holds_more_than_the_limit(settings: Settings) -> None:
    """Spent just before a whole second ends, the budget is still spent just after it: a
    fixed window starting on that second let the limit through a second time."""
    rule, key = Limit(3, 2, "test_rate_limited", "테스트 요청이"), "test:boundary"
    redis = Redis.from_url(settings.redis_url or "")
    try:
        await asyncio.sleep(2 - time.time() % 2 + 1.7)  # 0.3 s before an even second ends
        for _ in range(rule.limit):
            async with limited(redis, key, rule):
                pass
        await asyncio.sleep(0.5)  # into the next two-second window
        with pytest.raises(TooManyRequests) as refused:
            async with limited(redis, key, rule):
                pass
        assert refused.value.headers["Retry-After"] in {"1", "2"}  # the first expires in ~1.5 s
        await asyncio.sleep(1.6)
        async with limited(redis, key, rule):  # the first three have left the window
            pass
    finally:
        await redis.aclose()


async def test_a_failed_use_is_given_back(settings: Settings) -> None:
    rule, key = Limit(1, 60, "test_rate_limited", "테스트 요청이"), "test:give-back"
    redis = Redis.from_url(settings.redis_url or "")
    try:
        with pytest.raises(ValueError, match="bad input"):
            async with limited(redis, key, rule):
                raise ValueError("bad input")
        async with limited(redis, key, rule):
            pass
        with pytest.raises(TooManyRequests):
            async with limited(redis, key, rule):
                pass
    finally:
        await redis.aclose()


async def test_a_retried_submit_spends_no_more_of_the_limit(client: Client) -> None:
    """A retry with the submit's Idempotency-Key is answered with the first job, even when the
    budget is spent: it starts nothing new."""
    await dev_login(client)
    chat = (await client.post("/api/v1/chat", json={})).json()["id"]
    url, retry = f"/api/v1/chat/{chat}/messages", {"Idempotency-Key": "msg-1"}
    first = await client.post(url, json={"message": "캔"}, headers=retry)
    for _ in range(LIMIT - 1):
        assert (await client.post(url, json={"message": "병"})).status_code == 202
    again = await client.post(url, json={"message": "캔"}, headers=retry)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] == first.json()["job_id"]
    assert_limited(await client.post(url, json={"message": "종이"}), "chat_rate_limited")

    scan, retry = {"image_url": IMAGE, "user_input": "우유팩"}, {"Idempotency-Key": "scan-1"}
    first = await client.post("/api/v1/scan", json=scan, headers=retry)
    for _ in range(LIMIT - 1):
        assert (await client.post("/api/v1/scan/classify", json=scan)).status_code == 200
    again = await client.post("/api/v1/scan", json=scan, headers=retry)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] == first.json()["job_id"]
    assert_limited(await client.post("/api/v1/scan", json=scan), "scan_rate_limited")
