"""``POST /api/v1/scan`` jobs over real HTTP and SSE: progress, the result, failures the web
client understands (contract §7), idempotent submits, one effect when a job runs twice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy.exc import OperationalError

from eco2.domains.scan import services as scan_services
from eco2.domains.scan.providers.base import ProviderError
from eco2.domains.scan.services import ScanService
from eco2.platform.job_events import StreamSlots
from eco2.settings import Settings
from tests.fakes.db import sql
from tests.fakes.live import LiveApp, live_app
from tests.fakes.sse import Gate, read_stream, reading
from tests.scan.conftest import CLASSIFY, IMAGE

SCAN = "/api/v1/scan"
PAPER = "다 쓴 우유팩"  # the offline text provider's clean 종이팩: rewarded with 팩토리


class Counted:
    """Wraps the pipeline's vision: counts the model calls, can hold them or fail them."""

    def __init__(self, original: Any, gate: Gate | None = None, error: str | None = None) -> None:
        self.original, self.gate, self.error = original, gate, error
        self.name = original.name
        self.calls = 0

    async def observe(self, scan: Any) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise ProviderError(self.error)
        return await self.original.observe(scan)


async def following(settings: Settings, user_id: str, within: float = 15.0) -> None:
    """Until a stream of ``user_id`` is open on the server (it holds one of the user's slots)."""
    redis = Redis.from_url(settings.redis_url or "")
    try:
        deadline = time.monotonic() + within
        while not await redis.zcard(StreamSlots.key(user_id)):
            assert time.monotonic() < deadline, "no stream opened"
            await asyncio.sleep(0.01)
    finally:
        await redis.aclose()


def vision(app: Litestar, **options: Any) -> Counted:
    service = app.state.runtime.service("scan", ScanService)
    counted = Counted(service.pipeline.vision, **options)
    object.__setattr__(service.pipeline, "vision", counted)
    return counted


async def submit(live: LiveApp, user_input: str = PAPER, **headers: str) -> dict[str, Any]:
    response = await live.http.post(
        SCAN, json={"image_url": IMAGE, "user_input": user_input}, headers=headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_job_streams_named_events_then_result(live: LiveApp) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    job = await submit(live)
    assert job["status"] == "queued"
    assert job["stream_url"].startswith(f"/api/v1/scan/{job['job_id']}/events?ticket=")
    assert job["result_url"].split("/")[-2] == job["job_id"]  # the client takes it from there
    async with reading(live.http, job["stream_url"]) as streaming:
        await gate.until_entered()
        gate.open()
        stream = await streaming
    assert stream.status == 200
    assert stream.ended_by_server
    stages = [(e.event, e.data["status"]) for e in stream.events]
    assert stages[0] == ("queued", "completed")
    for stage in ("vision", "rule", "answer", "reward"):
        assert (stage, "completed") in stages
    assert stages[-1] == ("done", "completed")
    assert [e.data["seq"] for e in stream.events] == list(range(1, len(stages) + 1))
    assert stream.ids == [e.data["seq"] for e in stream.events]
    assert all(e.data["job_id"] == job["job_id"] for e in stream.events)
    done = stream.events[-1].data
    assert done["progress"] == 100
    middle = done["result"]["pipeline_result"]["classification_result"]["classification"]
    assert middle["middle_category"] == "종이팩"

    result = await live.http.get(job["result_url"])
    assert result.status_code == 200
    body = result.json()
    assert body["status"] == "completed"
    assert body["reward"]["name"] == "팩토리"
    assert body["pipeline_result"] == done["result"]["pipeline_result"]
    for alias in (f"/api/v1/scan/tasks/{job['job_id']}", f"/api/v1/scan/task/{job['job_id']}"):
        assert (await live.http.get(alias)).json() == body


async def test_a_failed_scan_ends_with_done_and_a_result_without_an_answer(
    live: LiveApp,
) -> None:
    """Contract §7: the client moves on only at done/completed; it then reads the result and
    leaves for its error page when pipeline_result is null."""
    gate = Gate()
    vision(live.app, gate=gate, error="model_timeout")
    job = await submit(live)
    async with reading(live.http, job["stream_url"]) as streaming:
        await gate.until_entered()
        gate.open()
        stream = await streaming
    assert stream.ended_by_server
    assert ("vision", "failed") in [(e.event, e.data["status"]) for e in stream.events]
    done = stream.events[-1]
    assert (done.event, done.data["status"]) == ("done", "completed")
    assert done.data["result"]["pipeline_result"] is None
    assert done.data["result"]["error"]["code"] == "model_timeout"
    result = await live.http.get(job["result_url"])
    assert result.status_code == 200
    body = result.json()
    assert body["pipeline_result"] is None
    assert body["reward"] is None
    assert body["status"] == "failed"
    assert body["error"]["code"] == "model_timeout"


async def test_result_is_202_while_running(live: LiveApp) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    job = await submit(live)
    await gate.until_entered()
    running = await live.http.get(job["result_url"])
    assert running.status_code == 202
    assert running.json()["status"] in ("queued", "running")
    assert running.json()["reward"] is None
    gate.open()
    assert (await read_stream(live.http, job["stream_url"])).names[-1] == "done"
    assert (await live.http.get(job["result_url"])).json()["status"] == "completed"


async def test_jobs_are_private(live: LiveApp) -> None:
    job = await submit(live)
    await read_stream(live.http, job["stream_url"])
    await live.sign_in("다른사람")
    assert (await live.http.get(job["result_url"])).status_code == 404
    assert (await live.http.get(job["stream_url"])).status_code == 404
    assert (await live.http.get("/api/v1/scan/not-a-uuid/result")).status_code == 404


async def test_one_idempotency_key_one_job_one_model_call(
    live: LiveApp, settings: Settings
) -> None:
    counted = vision(live.app)
    first = await submit(live, **{"Idempotency-Key": "scan-1"})
    again = await submit(live, **{"Idempotency-Key": "scan-1"})
    legacy_header = await submit(live, **{"X-Idempotency-Key": "scan-1"})
    assert first == again == legacy_header
    assert (await read_stream(live.http, first["stream_url"])).names[-1] == "done"
    after = await submit(live, **{"Idempotency-Key": "scan-1"})  # also once it has finished
    assert after["job_id"] == first["job_id"]
    assert counted.calls == 1
    rows = await sql(settings, "SELECT count(*) FROM scan.scans")
    assert rows[0][0] == 1

    other = await submit(live, **{"Idempotency-Key": "scan-2"})
    assert other["job_id"] != first["job_id"]
    reused = await live.http.post(
        SCAN, json={"image_url": IMAGE, "user_input": "캔"}, headers={"Idempotency-Key": "scan-1"}
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    bad = await live.http.post(
        SCAN, json={"image_url": IMAGE}, headers={"Idempotency-Key": "has space"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_idempotency_key"
    await live.sign_in("다른사람")  # keys are per user
    assert (await submit(live, **{"Idempotency-Key": "scan-1"}))["job_id"] != first["job_id"]


async def test_a_sync_scan_that_cannot_be_stored_grants_no_reward(
    live: LiveApp, settings: Settings
) -> None:
    """Issue 12, item 10: the reward and the stored scan succeed or fail together."""
    service = live.app.state.runtime.service("scan", ScanService)

    async def broken(row: dict[str, Any]) -> None:
        raise OperationalError("INSERT", {}, ConnectionError("database went away"))

    service.inserts.write = broken
    response = await live.http.post(CLASSIFY, json={"image_url": IMAGE, "user_input": PAPER})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "scan_store_unavailable"
    owned = "SELECT count(*) FROM character.ownerships WHERE character_code <> 'eco'"
    assert (await sql(settings, owned))[0][0] == 0


async def test_a_reward_owed_by_a_crashed_scan_is_granted_by_the_sweep(
    live: LiveApp, settings: Settings
) -> None:
    user_id = await live.sign_in("보상")
    scan_id = "6f1d2a4e-8c3b-4d9a-9e5f-0a1b2c3d4e5f"
    await sql(
        settings,
        "INSERT INTO scan.scans (id, user_id, mode, status, image_url, vision_provider,"
        " answer_provider, middle_category, reward_due, created_at, completed_at)"
        " VALUES (:i, :u, 'sync', 'completed', :img, 'text', 'template', '종이팩', true,"
        " now() - interval '5 minutes', now() - interval '5 minutes')",
        i=scan_id,
        u=user_id,
        img=IMAGE,
    )
    service = live.app.state.runtime.service("scan", ScanService)
    assert await live.call(service.settle_rewards) == 1
    owned = await sql(
        settings,
        "SELECT source_id FROM character.ownerships WHERE user_id = :u AND character_code <> 'eco'",
        u=user_id,
    )
    assert [row[0] for row in owned] == [f"scan:{scan_id}"]
    row = (
        await sql(settings, "SELECT reward, reward_due FROM scan.scans WHERE id = :i", i=scan_id)
    )[0]
    assert row[0]["name"] == "팩토리"
    assert row[0]["received"] is True
    assert row[1] is False
    assert await live.call(service.settle_rewards) == 0


async def test_a_job_that_runs_again_has_one_effect_and_one_ordered_stream(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process running a scan stops mid-job (no time to finish it: it hands the job back);
    another one runs it again. One stored scan, one reward, and a client that resumes with
    Last-Event-ID while the job runs again sees every step once, in order."""
    first_run = settings.model_copy(update={"jobs_drain_seconds": 0.0})
    async with live_app(first_run) as first:
        user_id = await first.sign_in()
        gate = Gate()
        vision(first.app, gate=gate)
        job = await submit(first)
        seen = await read_stream(first.http, job["stream_url"], stop=lambda e: e.event == "vision")
        await gate.until_entered()
        cookies = dict(first.http.cookies)
    assert seen.names == ["queued", "vision"]

    # The second process's model is held from its start (it takes the job back at once), so
    # the client is following the job before the retry ends it.
    held, build = Gate(), scan_services.build_vision
    monkeypatch.setattr(scan_services, "build_vision", lambda *a: Counted(build(*a), gate=held))
    async with live_app(settings) as second:
        second.http.cookies.update(cookies)
        url, since = job["stream_url"], seen.ids[-1]
        async with reading(second.http, url, last_event_id=since) as streaming:
            await held.until_entered()
            await following(settings, user_id)
            held.open()
            rest = await streaming
        replay = await read_stream(second.http, job["stream_url"])
    assert rest.ended_by_server
    everything = seen.events + rest.events
    keys = [(e.event, e.data["status"]) for e in everything]
    assert len(keys) == len(set(keys)), keys  # no step twice
    assert [e.id for e in everything] == list(range(1, len(everything) + 1))
    assert keys[-1] == ("done", "completed")
    assert [e.event for e in replay.events] == ["done"]  # a finished job: its end only
    assert (await sql(settings, "SELECT count(*) FROM scan.scans"))[0][0] == 1
    owned = await sql(
        settings,
        "SELECT source_id FROM character.ownerships WHERE user_id = :u AND character_code <> 'eco'",
        u=user_id,
    )
    assert [row[0] for row in owned] == [f"scan:{job['job_id']}"]
    assert everything[-1].data["result"]["reward"]["received"] is True
