"""A burst of sends shares a few pooled connections (platform/batching.BatchWriter): with a
pool far smaller than the burst every send is accepted and stored once; a batch that cannot
reach the database fails each of its sends with the usual 503 instead of hanging them."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from eco2.settings import Settings
from tests.chat.conftest import chat_settings
from tests.fakes.db import sql
from tests.fakes.live import LiveApp

CHAT = "/api/v1/chat"
BURST = 200


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    # Two pooled connections at most, given up on quickly; no worker competing for them.
    return chat_settings(
        base_settings,
        db_pool_size=1,
        db_pool_timeout_seconds=0.05,
        jobs_in_process=False,
        chat_rate_limit=10_000,
    )


async def test_a_burst_of_sends_on_a_tiny_pool_is_accepted_and_stored_once(
    live: LiveApp, settings: Settings
) -> None:
    await live.sign_in("다른사람")
    theirs = (await live.http.post(CHAT, json={})).json()["id"]
    await live.sign_in()
    mine = (await live.http.post(CHAT, json={})).json()["id"]
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(
        base_url=live.url, cookies=live.http.cookies, limits=limits, timeout=60
    ) as http:

        async def post(chat_id: str, text: str, **headers: str) -> httpx.Response:
            url = f"{CHAT}/{chat_id}/messages"
            return await http.post(url, json={"message": text}, headers=headers)

        sends = [post(mine, f"질문 {n}") for n in range(BURST)]
        sends += [post(mine, "같은 질문", **{"Idempotency-Key": "same"}) for _ in range(2)]
        sends += [post(theirs, "남의 대화"), post("not-a-chat", "없는 대화")]
        responses = await asyncio.gather(*sends)

    assert [r.status_code for r in responses] == [202] * (BURST + 2) + [404, 404]
    assert {r.json()["error"]["code"] for r in responses[-2:]} == {"chat_not_found"}
    assert responses[BURST].json()["job_id"] == responses[BURST + 1].json()["job_id"]
    assert len({r.json()["job_id"] for r in responses[: BURST + 2]}) == BURST + 1
    count = await sql(settings, "SELECT message_count FROM chat.sessions WHERE id = :id", id=mine)
    stored = await sql(
        settings, "SELECT content FROM chat.messages WHERE session_id = :id", id=mine
    )
    assert count == [(BURST + 1,)]
    assert sorted(c for (c,) in stored) == sorted(
        [f"질문 {n}" for n in range(BURST)] + ["같은 질문"]
    )
    theirs_stored = "SELECT count(*) FROM chat.messages WHERE session_id = :id"
    assert await sql(settings, theirs_stored, id=theirs) == [(0,)]


async def test_a_batch_without_a_connection_fails_each_send_with_a_503(live: LiveApp) -> None:
    chat = (await live.http.post(CHAT, json={})).json()["id"]
    engine: AsyncEngine = live.app.state.runtime.sessions.kw["bind"]
    taken, release = threading.Event(), threading.Event()  # the app runs in another thread

    async def hold_the_pool() -> None:  # on the app's loop: every pooled connection taken
        async with engine.connect(), engine.connect():
            taken.set()
            await asyncio.to_thread(release.wait)

    holder = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(hold_the_pool(), live.loop))
    try:
        assert await asyncio.to_thread(taken.wait, 10)
        async with asyncio.timeout(10):
            refused = await asyncio.gather(
                *(
                    live.http.post(f"{CHAT}/{chat}/messages", json={"message": f"질문 {n}"})
                    for n in range(5)
                )
            )
    finally:
        release.set()
        await holder
    assert [r.status_code for r in refused] == [503] * 5
    assert {r.json()["error"]["code"] for r in refused} == {"database_unavailable"}
    again = await live.http.post(f"{CHAT}/{chat}/messages", json={"message": "다시 질문"})
    assert again.status_code == 202, again.text  # the pool is free again: sends go on
