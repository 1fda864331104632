"""The job event log's guarantees (one writer per attempt, each event once, nothing after the
end) and the engine's give-up path for a job whose attempts all died."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from eco2.platform.job_events import EventLog, StaleAttempt
from eco2.settings import Settings
from tests.fakes.db import sql
from tests.fakes.live import live_app
from tests.fakes.sse import Gate, read_stream
from tests.scan.conftest import scan_settings
from tests.scan.test_jobs import submit, vision


@pytest.fixture
async def redis(base_settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(base_settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(base_settings)


async def test_each_event_once_one_attempt_at_a_time_nothing_after_the_end(redis: Redis) -> None:
    log = EventLog(redis, "test", ttl=60, terminal=("done",))
    assert await log.create("j1", "owner", time.time() + 60, ("queued", "queued", {"n": 1}))
    assert not await log.create("j1", "someone else", 0, ("queued", "queued", {"n": 2}))

    first = await log.writer("j1", 1)
    assert await first.emit("step", {"a": 1}, key="step:started") == 2
    assert await first.emit("token", lambda seq: {"seq": seq}) == 3

    second = await log.writer("j1", 2)  # the job runs again: the first attempt is fenced off
    assert second.logged("step:started")
    assert not second.logged("step:completed")
    with pytest.raises(StaleAttempt):
        await first.emit("step", {"a": 2}, key="step:completed")
    with pytest.raises(StaleAttempt):
        await log.writer("j1", 1)
    assert await second.emit("step", {"a": 1}, key="step:started") is None  # already logged
    assert await second.emit("done", {"ok": True}) == 4
    assert await second.emit("late", {}) is None  # nothing after the end
    events = await log.read_after("j1", 0)
    assert [(e.seq, e.name) for e in events] == [
        (1, "queued"),
        (2, "step"),
        (3, "token"),
        (4, "done"),
    ]
    assert bytes(events[2].data) == b'{"seq":3}'
    record = await log.record("j1")
    assert record is not None
    assert (record.owner, record.done) == ("owner", 4)


async def test_a_job_whose_every_attempt_died_is_given_up(settings: Settings) -> None:
    """A job that kills its worker each time must not loop forever: past the last attempt it
    ends the way its client expects (a failed scan, a final event)."""
    once = settings.model_copy(update={"jobs_max_attempts": 1, "jobs_drain_seconds": 0.0})
    async with live_app(once) as first:
        await first.sign_in()
        gate = Gate()
        vision(first.app, gate=gate)
        job = await submit(first)
        await gate.until_entered()  # attempt 1 dies with its process (drain 0: handed back)
        cookies = dict(first.http.cookies)
    async with live_app(once) as second:
        second.http.cookies.update(cookies)
        stream = await read_stream(second.http, job["stream_url"], within=20)
        result = (await second.http.get(job["result_url"])).json()
    done = stream.events[-1]
    assert (done.event, done.data["status"]) == ("done", "completed")
    assert done.data["result"]["error"]["code"] == "scan_abandoned"
    assert result["status"] == "failed"
    assert result["pipeline_result"] is None
    rows = await sql(settings, "SELECT status, error_code FROM scan.scans")
    assert [tuple(r) for r in rows] == [("failed", "scan_abandoned")]
