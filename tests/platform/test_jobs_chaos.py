"""Jobs survive their process: ``eco2 serve`` processes on the test PostgreSQL and Redis, a
fake model that keeps every job busy, and the process running them killed or stopped.

* SIGKILL with 100 scans and 100 chat answers in flight, a new process on the same stores:
  every job ends completed, with one stored result, one reward, one answer each, and event
  logs a client can follow (each step once, in order).
* SIGTERM during a burst: the process stops taking jobs, finishes the running ones within its
  grace period, and the next process runs the rest: every job done, none done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from eco2.platform.embedded import free_port
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN
from tests.fakes.db import sql
from tests.fakes.models import (
    FakeServer,
    Reply,
    fake_openai,
    response_body,
    text_chunks,
    vision_output,
)
from tests.fakes.processes import Eco2Process, eco2_env, eco2_serve

pytestmark = pytest.mark.slow

JOBS = 100
IMAGE_HOST = "cdn.chaos.test"
IMAGE = f"https://{IMAGE_HOST}/scan/photo.png"
ANSWER = (
    "투명 페트병은 **라벨을 떼고** 헹군 뒤 찌그러뜨려 전용 수거함에 넣어 주세요. 근거: 무색페트병."
)


@dataclass
class Cluster:
    """Processes started one after another on the same stores and settings."""

    env: dict[str, str]
    log_dir: Path
    stack: contextlib.ExitStack

    async def start(self, *domains: str, command: str = "serve", **extra: str) -> Eco2Process:
        env = self.env | {f"ECO2_{k.upper()}": v for k, v in extra.items()}
        process = self.stack.enter_context(
            eco2_serve(*domains, port=free_port(), env=env, log_dir=self.log_dir, command=command)
        )
        await process.wait_ready()
        return process


@contextlib.contextmanager
def cluster(
    settings: Settings, pem: str, tmp_path: Path, model: FakeServer, **extra: str
) -> Iterator[Cluster]:
    env = eco2_env(
        env="local",
        database_url=settings.database_url or "",
        redis_url=settings.redis_url or "",
        auth_signing_keys=pem,
        internal_token=INTERNAL_TOKEN,
        data_dir=str(tmp_path / "data"),
        location_import_on_start="false",
        image_allowed_hosts=IMAGE_HOST,
        vision_provider="openai",
        answer_provider="template",
        chat_provider="openai",
        jobs_idle_timeout_seconds="2",
        log_level="WARNING",
        **extra,
    )
    env |= {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": model.url}
    if "ECO2_WASTE_INDEX_DIR" in os.environ:
        env["ECO2_WASTE_INDEX_DIR"] = os.environ["ECO2_WASTE_INDEX_DIR"]
    with contextlib.ExitStack() as stack:
        yield Cluster(env, tmp_path, stack)


def kill(process: Eco2Process, sig: int) -> None:
    os.killpg(process.process.pid, sig)


@contextlib.asynccontextmanager
async def users(url: str, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``n`` signed-in users, each a client with its own cookies."""
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for _ in range(n)]
    try:
        for i, client in enumerate(clients):
            login = await client.post("/api/v1/auth/dev/login", json={"nickname": f"혼돈{i}"})
            assert login.status_code == 200, login.text
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def until(condition: Any, within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.5)


def moved_to(clients: list[httpx.AsyncClient], url: str) -> None:
    for client in clients:
        client.base_url = httpx.URL(url)


async def event_log(settings: Settings, kind: str, job_id: str) -> list[tuple[int, str, Any]]:
    redis = Redis.from_url(settings.redis_url or "")
    try:
        raw = await redis.lrange(f"{kind}:events:{job_id}", 0, -1)
    finally:
        await redis.aclose()
    return [(seq, name, data) for seq, name, data in (msgspec.json.decode(r) for r in raw)]


def assert_followable(log: list[tuple[int, str, Any]]) -> None:
    """Each step once, seq 1..n, one terminal event at the end."""
    assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1))
    steps = [
        (name, data.get("status"))
        for _, name, data in log
        if name not in ("token", "token_recovery", "error")
    ]
    assert len(steps) == len(set(steps)), steps
    assert [name for _, name, _ in log].count("done") == 1
    assert log[-1][1] == "done"


class Model:
    """The fake model of both jobs: a slow vision answer for scans, a slowly streamed chat
    completion for answers; ``fast()`` once the process running them is gone."""

    def __init__(self) -> None:
        self.delay, self.chunk_delay = 4.0, 0.25

    def fast(self) -> None:
        self.delay, self.chunk_delay = 0.3, 0.02

    def __call__(self, request: dict[str, Any]) -> Reply:
        if "messages" in request:  # a chat completion
            return Reply(chunks=text_chunks(ANSWER, size=6), chunk_delay=self.chunk_delay)
        return Reply(body=response_body(vision_output()), delay=self.delay)


async def test_sigkill_with_100_scans_and_100_answers_in_flight(
    base_settings: Settings, signing_key_pem: str, tmp_path: Path
) -> None:
    """Kill -9 the process running 100 scans (waiting on the model) and 100 chat answers
    (streaming their words), start another on the same PostgreSQL and Redis: every job ends
    completed with one stored result, one reward, one answer; every event log is followable."""
    script = Model()
    with fake_openai() as model, cluster(base_settings, signing_key_pem, tmp_path, model) as c:
        model.script.responder = script
        first = await c.start()
        async with users(first.url, JOBS) as clients:
            scans = await asyncio.gather(
                *(cl.post("/api/v1/scan", json={"image_url": IMAGE}) for cl in clients)
            )
            chats = await asyncio.gather(*(cl.post("/api/v1/chat", json={}) for cl in clients))
            asked = await asyncio.gather(
                *(
                    cl.post(
                        f"/api/v1/chat/{chat.json()['id']}/messages", json={"message": "페트병"}
                    )
                    for cl, chat in zip(clients, chats, strict=True)
                )
            )
            assert {r.status_code for r in [*scans, *asked]} == {202}
            scan_jobs = [r.json()["job_id"] for r in scans]
            answer_jobs = [r.json()["job_id"] for r in asked]

            async def all_in_flight() -> bool:
                return len(model.script.requests) >= 2 * JOBS

            await until(all_in_flight, 90, "every scan and answer calling the model")
            await asyncio.sleep(1.0)  # a few words of each answer streamed
            kill(first, signal.SIGKILL)
            first.process.wait()
            script.fast()

            second = await c.start()
            moved_to(clients, second.url)

            async def all_done() -> bool:
                logs = await asyncio.gather(
                    *(event_log(base_settings, "scan", j) for j in scan_jobs),
                    *(event_log(base_settings, "chat", j) for j in answer_jobs),
                )
                return all(log and log[-1][1] == "done" for log in logs)

            await until(all_done, 180, "every job finished by the new process")
            results = await asyncio.gather(
                *(
                    cl.get(f"/api/v1/scan/{j}/result")
                    for cl, j in zip(clients, scan_jobs, strict=True)
                )
            )
            ends = await asyncio.gather(
                *(
                    cl.get(f"/api/v1/scan/{j}/events")
                    for cl, j in zip(clients[:5], scan_jobs[:5], strict=True)
                )
            )
    # Scans: one stored result and one reward grant each.
    for result in results:
        body = result.json()
        assert body["status"] == "completed", body
        assert body["pipeline_result"] is not None
        assert body["reward"]["name"] == "페티"
    rows = await sql(
        base_settings,
        "SELECT count(*), count(*) FILTER (WHERE status = 'completed' AND reward IS NOT NULL"
        " AND NOT reward_due) FROM scan.scans",
    )
    assert tuple(rows[0]) == (JOBS, JOBS)
    grants = await sql(
        base_settings,
        "SELECT user_id, count(*), min(source_id) FROM character.ownerships"
        " WHERE character_code <> 'eco' GROUP BY user_id",
    )
    assert len(grants) == JOBS
    assert all(n == 1 for _, n, _ in grants)
    assert {source for _, _, source in grants} == {f"scan:{j}" for j in scan_jobs}
    for end in ends:  # a finished job's stream: its end, then it closes
        assert end.text.count("event: done") == 1
        assert "event: vision" not in end.text
    # Answers: one stored assistant message each; the text a client shows is the answer.
    answers = await sql(
        base_settings,
        "SELECT count(*), count(DISTINCT session_id) FROM chat.messages WHERE role = 'assistant'",
    )
    assert tuple(answers[0]) == (JOBS, JOBS)
    for kind, jobs in (("scan", scan_jobs), ("chat", answer_jobs)):
        for job_id in jobs:
            log = await event_log(base_settings, kind, job_id)
            assert_followable(log)
            assert log[-1][2]["status"] == "completed", log[-1]
            if kind == "chat":
                done = log[-1][2]
                assert done["result"]["persistence"]["assistant_message"] == job_id
                assert client_text(log).strip() == done["result"]["answer"]


def client_text(log: list[tuple[int, str, Any]]) -> str:
    """What the web client shows: tokens appended, ``token_recovery`` replacing the text."""
    text = ""
    for _, name, data in log:
        if name == "token":
            text += data["content"]
        elif name == "token_recovery":
            text = data["accumulated"]
    return text


async def test_sigterm_during_a_burst_loses_nothing_and_duplicates_nothing(
    base_settings: Settings, signing_key_pem: str, tmp_path: Path
) -> None:
    """50 scans running and 50 waiting when SIGTERM arrives: the running ones finish within
    the grace period, the waiting ones are not taken, and ``eco2 worker`` runs them."""
    reply = Reply(body=response_body(vision_output()), delay=3.0)
    with (
        fake_openai(reply) as model,
        cluster(
            base_settings,
            signing_key_pem,
            tmp_path,
            model,
            jobs_concurrency="50",
            jobs_drain_seconds="20",
        ) as c,
    ):
        first = await c.start()
        async with users(first.url, JOBS) as clients:
            submitted = await asyncio.gather(
                *(cl.post("/api/v1/scan", json={"image_url": IMAGE}) for cl in clients)
            )
            jobs = [r.json()["job_id"] for r in submitted]

            async def fifty_running() -> bool:
                return len(model.script.requests) >= 50

            await until(fifty_running, 60, "50 scans calling the model")
            kill(first, signal.SIGTERM)
            await asyncio.to_thread(first.process.wait, 60)
            calls_by_first = len(model.script.requests)
            done_by_first = (
                await sql(
                    base_settings, "SELECT count(*) FROM scan.scans WHERE status = 'completed'"
                )
            )[0][0]

            # The rest is run as in the cluster: web pods only queue, a worker runs the jobs
            # and reaches the other domains (character, for the rewards) over HTTP.
            web = await c.start(jobs_in_process="false")
            await c.start("scan", command="worker", service_urls=f"character={web.url}")

            async def all_done() -> bool:
                rows = await sql(
                    base_settings, "SELECT count(*) FROM scan.scans WHERE status = 'completed'"
                )
                return bool(rows[0][0] == JOBS)

            await until(all_done, 120, "every scan finished")
    assert calls_by_first == 50  # nothing taken once the stop was asked for
    assert done_by_first == 50  # everything running finished inside the grace period
    assert len(model.script.requests) == JOBS  # and nothing ran twice
    grants = await sql(
        base_settings,
        "SELECT count(*), count(DISTINCT user_id) FROM character.ownerships"
        " WHERE character_code <> 'eco'",
    )
    assert tuple(grants[0]) == (JOBS, JOBS)
    for job_id in jobs:
        assert_followable(await event_log(base_settings, "scan", job_id))
