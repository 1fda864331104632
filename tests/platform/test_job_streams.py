"""Every stream ends, over real HTTP: a finished job's stream sends its end and closes whatever
``Last-Event-ID`` it gets, every stream has a deadline, waiting streams cost no Redis calls
(pub/sub wakes them), one user holds a bounded number of streams, and a stopping process ends
its streams (their clients resume elsewhere)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from eco2.settings import Settings
from tests.fakes.live import LiveApp, live_app
from tests.fakes.sse import Event, Gate, Stream, read_stream, reading
from tests.scan.conftest import IMAGE, scan_settings
from tests.scan.test_jobs import submit, vision


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(base_settings, stream_max_per_user=40)


async def redis_calls(settings: Settings, *commands: str) -> int:
    redis = Redis.from_url(settings.redis_url or "")
    try:
        stats: dict[str, Any] = await redis.info("commandstats")
    finally:
        await redis.aclose()
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in commands)


async def test_a_finished_job_sends_its_end_and_closes_whatever_last_event_id(
    live: LiveApp,
) -> None:
    job = await submit(live)
    full = await read_stream(live.http, job["stream_url"], last_event_id=0)
    assert full.names[-1] == "done"
    done_id = full.ids[-1]
    for since in (None, 0, 2, done_id - 1, done_id, done_id + 5, 10**12):
        stream = await read_stream(live.http, job["stream_url"], last_event_id=since, within=5)
        assert stream.ended_by_server, since
        assert stream.names == ["done"], since
        assert stream.ids == [done_id], since


async def test_a_stream_past_its_deadline_ends_with_a_terminal_event(
    live: LiveApp, settings: Settings
) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    job = await submit(live)
    await gate.until_entered()
    redis = Redis.from_url(settings.redis_url or "")
    await redis.hset(f"scan:job:{job['job_id']}", "deadline", time.time() + 1.0)
    await redis.aclose()
    started = time.monotonic()
    stream = await read_stream(live.http, job["stream_url"], within=10)
    assert stream.ended_by_server
    assert time.monotonic() - started < 5
    done = stream.events[-1]
    assert (done.event, done.data["status"]) == ("done", "completed")
    assert done.data["result"]["pipeline_result"] is None
    assert done.data["result"]["error"]["code"] == "scan_abandoned"
    gate.open()


async def test_waiting_streams_make_no_redis_calls_and_pubsub_wakes_them(
    live: LiveApp, settings: Settings
) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    jobs = [await submit(live) for _ in range(30)]
    await gate.until_entered(30)
    async with streams_of(live, jobs) as streams:
        before = await settled(settings, *READS)
        await asyncio.sleep(3.0)
        during = await redis_calls(settings, *READS) - before
        opened = time.monotonic()
        gate.open()
        results = await asyncio.gather(*streams)
        woke = time.monotonic() - opened
    assert during == 0, f"{during} reads while 30 streams waited"
    assert all(r.ended_by_server and r.names[-1] == "done" for r in results)
    assert woke < 10


READS = ("lrange", "lindex", "hmget")
"""The Redis commands a stream reads its job's record and events with."""


async def settled(settings: Settings, *commands: str, still: float = 1.0) -> int:
    """The count of ``commands`` once it stops moving for ``still`` seconds (within 30 s): what
    opening streams read is done, however long a loaded machine takes for it. Commands that
    never settle (polling) show up in the caller's next count anyway."""
    count = await redis_calls(settings, *commands)
    for _ in range(int(30 / still)):
        await asyncio.sleep(still)
        count, last = await redis_calls(settings, *commands), count
        if count == last:
            break
    return count


@contextlib.asynccontextmanager
async def streams_of(
    live: LiveApp, jobs: list[dict[str, Any]]
) -> AsyncIterator[list[asyncio.Task[Stream]]]:
    """The streams of many jobs, read in the background; entered once each has sent its
    backlog (from then on each waits for news)."""
    answered: set[int] = set()
    all_answered = asyncio.Event()

    def read(index: int, url: str) -> asyncio.Task[Stream]:
        def on_event(_: Event) -> None:
            answered.add(index)
            if len(answered) == len(jobs):
                all_answered.set()

        return asyncio.create_task(read_stream(live.http, url, within=60, on_event=on_event))

    tasks = [read(index, job["stream_url"]) for index, job in enumerate(jobs)]
    try:
        await asyncio.wait_for(all_answered.wait(), 30)
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_user_holds_a_bounded_number_of_streams(settings: Settings) -> None:
    async with live_app(settings.model_copy(update={"stream_max_per_user": 2})) as live:
        await live.sign_in()
        gate = Gate()
        vision(live.app, gate=gate)
        job = await submit(live)
        await gate.until_entered()
        async with reading(live.http, job["stream_url"]), reading(live.http, job["stream_url"]):
            await asyncio.sleep(0.5)
            refused = await live.http.get(job["stream_url"])
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0
            await live.sign_in("다른사람")  # per user
            other = await submit(live)
            first = await read_stream(live.http, other["stream_url"], stop=lambda _: True)
            assert first.names == ["queued"]
        await live.sign_in()  # the first user again, streams closed: slots given back
        await asyncio.sleep(0.5)
        async with reading(live.http, job["stream_url"]) as again:
            await asyncio.sleep(0.3)
            gate.open()
            stream = await again
        assert stream.status == 200
        assert stream.names[-1] == "done"


async def test_a_stopping_process_ends_its_streams_for_clients_to_resume(
    live: LiveApp,
) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    job = await submit(live)
    await gate.until_entered()
    async with reading(live.http, job["stream_url"]) as streaming:
        await asyncio.sleep(0.5)
        stopping = live.app.state.runtime.stopping
        await live.call(lambda: _request(stopping))
        stream = await asyncio.wait_for(streaming, 5)
    assert stream.ended_by_server
    assert "done" not in stream.names  # not the job's end: the client resumes elsewhere
    gate.open()


async def _request(stopping: Any) -> None:
    stopping.request()


async def test_an_unknown_job_is_a_404(live: LiveApp) -> None:
    response = await live.http.get("/api/v1/scan/6f1d2a4e-8c3b-4d9a-9e5f-0a1b2c3d4e5f/events")
    assert response.status_code == 404
    sync = await live.http.post("/api/v1/scan/classify", json={"image_url": IMAGE})
    assert sync.status_code == 200
