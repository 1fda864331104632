"""The job event log's guarantees (one writer per attempt, each event once, nothing after the
end) and the engine's give-up path for a job whose attempts all died."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from eco2.platform import job_events
from eco2.platform.job_events import (
    Backlog,
    EventHub,
    EventLog,
    EventNotLogged,
    NewEvent,
    StaleAttempt,
)
from eco2.settings import Settings
from tests.fakes.db import sql
from tests.fakes.event_writes import failing_writes
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


async def test_a_batch_is_one_write_each_event_once_in_order(redis: Redis) -> None:
    """Events written together get their own seqs, are published as one message, skip what an
    earlier attempt logged (the seqs after it move up) and stop at the end."""
    log = EventLog(redis, "test", ttl=60, terminal=("done",))
    await log.create("j2", "owner", time.time() + 60, ("queued", "queued", {}))
    first = await log.writer("j2", 1)
    assert await first.emit("step", {"n": 1}, key="step:started") == 2

    second = await log.writer("j2", 2)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(log.keys.notify("j2"))
        await pubsub.get_message(timeout=1)  # the subscription itself
        seqs = await second.emit_many(
            [
                NewEvent("step", {"n": 1}, key="step:started"),  # logged by the first attempt
                NewEvent("token", lambda seq: {"seq": seq}, note="tokens"),
                NewEvent("token", lambda seq: {"seq": seq}, note="tokens"),
                NewEvent("done", {"ok": True}),
                NewEvent("late", {}),
            ]
        )
        published = [await pubsub.get_message(timeout=1) for _ in range(2)]
    assert seqs == [None, 3, 4, 5, None]
    messages = [m["data"] for m in published if m is not None]
    assert messages == [b'[[3,"token",{"seq":3}],[4,"token",{"seq":4}],[5,"done",{"ok":true}]]']
    events = await log.read_after("j2", 0)
    assert [(e.seq, e.name) for e in events] == [
        (1, "queued"),
        (2, "step"),
        (3, "token"),
        (4, "token"),
        (5, "done"),
    ]
    assert second.state["tokens"] == "2"
    assert second.ended
    with pytest.raises(StaleAttempt):
        await first.emit_many([NewEvent("token", {})])


async def test_a_failed_write_is_retried_and_logged_once(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write Redis never saw is written again; a write whose reply was lost is not written
    twice (the log shows it went in)."""
    monkeypatch.setattr(job_events, "WRITE_RETRY_SECONDS", (0.01, 0.01, 0.01))
    log = EventLog(redis, "test", ttl=60, terminal=("done",))
    await log.create("j4", "owner", time.time() + 60, ("queued", "queued", {}))
    writer = await log.writer("j4", 1)
    failing_writes(log, ["before", "", "after"])
    assert await writer.emit_many([NewEvent("token", {"n": 1}), NewEvent("token", {"n": 2})]) == [
        2,
        3,
    ]
    assert await writer.emit_many([NewEvent("token", {"n": 3}), NewEvent("done", {})]) == [4, 5]
    events = await log.read_after("j4", 0)
    assert [(e.seq, e.name, bytes(e.data)) for e in events] == [
        (1, "queued", b"{}"),
        (2, "token", b'{"n":1}'),
        (3, "token", b'{"n":2}'),
        (4, "token", b'{"n":3}'),
        (5, "done", b"{}"),
    ]
    assert writer.ended


async def test_an_end_that_cannot_be_logged_fails_the_attempt(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other events may be lost to a long Redis outage; the terminal one may not: its attempt
    fails, so the job's retry (or give-up) ends the stream instead of its deadline."""
    monkeypatch.setattr(job_events, "WRITE_RETRY_SECONDS", (0.01, 0.01))
    log = EventLog(redis, "test", ttl=60, terminal=("done",))
    await log.create("j5", "owner", time.time() + 60, ("queued", "queued", {}))
    writer = await log.writer("j5", 1)
    failing_writes(log, ["before"] * 3)
    assert await writer.emit_many([NewEvent("token", {"n": 1})]) == [None]  # lost, logged
    failing_writes(log, ["before"] * 3)
    with pytest.raises(EventNotLogged):
        await writer.emit_many([NewEvent("token", {"n": 2}), NewEvent("done", {})])
    assert not writer.ended
    retry = await log.writer("j5", 2)
    assert await retry.emit("done", {}) == 2


async def test_a_notification_in_another_format_makes_streams_read_the_log(redis: Redis) -> None:
    """During a rolling deploy a pod of the previous release publishes one event per message;
    a stream here must still see it (from the log), not wait for its deadline."""
    log = EventLog(redis, "test", ttl=60, terminal=("done",))
    hub = EventHub(log)
    await log.create("j3", "owner", time.time() + 60, ("queued", "queued", {}))
    waiter = hub.watch("j3")
    backlog = Backlog(await log.read_after("j3", 0))
    stream = hub.follow(waiter, "j3", backlog, None, time.time() + 30, keepalive=20)
    try:
        assert [e.name for e in (await anext(stream)) or []] == ["queued"]
        following = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)  # the stream waits on the hub
        await redis.rpush(log.keys.events("j3"), b'[2,"done",{"ok":true}]')  # as a writer would
        await redis.publish(log.keys.notify("j3"), b'{"seq":2,"name":"done"}')
        batch = await asyncio.wait_for(following, 5)
    finally:
        await stream.aclose()
        await hub.close()
    assert [(e.seq, e.name) for e in batch or []] == [(2, "done")]


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
