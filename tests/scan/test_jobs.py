"""``POST /api/v1/scan`` jobs: SSE progress from Redis, Last-Event-ID resume, result aliases."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import dev_login
from tests.scan.conftest import IMAGE


def parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("event", "id", "data"):
                fields[name] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
    return events


async def submit(client: AsyncTestClient[Litestar], user_input: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/scan", json={"image_url": IMAGE, "user_input": user_input}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_done(client: AsyncTestClient[Litestar], result_url: str) -> dict[str, Any]:
    for _ in range(100):
        response = await client.get(result_url)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 202
        await asyncio.sleep(0.05)
    raise AssertionError("scan job did not finish")


async def test_job_streams_named_events_then_result(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    job = await submit(client, "다 마신 콜라 캔")
    assert job["status"] == "queued"
    assert job["stream_url"] == f"/api/v1/scan/{job['job_id']}/events"
    assert job["result_url"].split("/")[-2] == job["job_id"]  # the client takes it from there

    stream = await client.get(job["stream_url"])
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(stream.text)
    stages = [(e["event"], e["data"]["status"]) for e in events]
    assert stages[0] == ("queued", "completed")
    for stage in ("vision", "rule", "answer", "reward"):
        assert (stage, "completed") in stages
    assert stages[-1] == ("done", "completed")
    seqs = [e["data"]["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert [int(e["id"]) for e in events] == seqs
    assert all(e["data"]["job_id"] == job["job_id"] for e in events)
    done = events[-1]["data"]
    assert done["progress"] == 100
    assert (
        done["result"]["pipeline_result"]["classification_result"]["classification"][
            "middle_category"
        ]
        == "금속류"
    )

    result = await client.get(job["result_url"])
    assert result.status_code == 200
    body = result.json()
    assert body["status"] == "completed"
    assert body["reward"]["name"] == "메탈리"
    assert body["pipeline_result"] == done["result"]["pipeline_result"]
    for alias in (f"/api/v1/scan/tasks/{job['job_id']}", f"/api/v1/scan/task/{job['job_id']}"):
        assert (await client.get(alias)).json() == body


async def test_last_event_id_resumes_after_that_event(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    job = await submit(client, "우유팩")
    await wait_done(client, job["result_url"])
    full = parse_sse((await client.get(job["stream_url"])).text)
    resumed = parse_sse((await client.get(job["stream_url"], headers={"Last-Event-ID": "3"})).text)
    assert [e["data"]["seq"] for e in resumed] == [e["data"]["seq"] for e in full[3:]]
    assert resumed[-1]["event"] == "done"


async def test_result_is_202_while_running(
    client: AsyncTestClient[Litestar], user_id: str, app: Litestar
) -> None:
    service = app.state.scan_service
    gate = asyncio.Event()
    original = service.pipeline.vision

    class Slow:
        name = "text"

        async def observe(self, scan: Any) -> Any:
            await gate.wait()
            return await original.observe(scan)

    object.__setattr__(service.pipeline, "vision", Slow())
    job = await submit(client, "우유팩")
    running = await client.get(job["result_url"])
    assert running.status_code == 202
    assert running.json()["status"] in ("queued", "running")
    assert running.json()["reward"] is None
    gate.set()
    assert (await wait_done(client, job["result_url"]))["status"] == "completed"


async def test_jobs_are_private(client: AsyncTestClient[Litestar], user_id: str) -> None:
    job = await submit(client, "우유팩")
    await wait_done(client, job["result_url"])
    await dev_login(client, "다른사람")
    assert (await client.get(job["result_url"])).status_code == 404
    assert (await client.get(job["stream_url"])).status_code == 404
    assert (await client.get("/api/v1/scan/not-a-uuid/result")).status_code == 404
