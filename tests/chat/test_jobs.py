"""Chat answers as jobs over real HTTP and SSE: tokens, ``token_recovery``, failures the web
client understands (contract §7: a job that will not go on ends with done/failed; a retriable
error only while another attempt follows), idempotent sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar

from eco2.domains.chat.assistant import Progress, Reply, Turn
from eco2.domains.chat.context import History
from eco2.domains.chat.progress import STAGE_SECONDS, ModelError
from eco2.domains.chat.services import ChatService
from eco2.platform import job_events
from eco2.settings import Settings
from tests.fakes.db import sql
from tests.fakes.event_writes import failing_writes
from tests.fakes.live import LiveApp, live_app
from tests.fakes.sse import Event, Gate, read_stream, reading

CHAT = "/api/v1/chat"
WORDS = ["투명 ", "페트병은 ", "**라벨을** ", "떼고 ", "헹궈서 ", "버려요."]

Attempt = Callable[[Progress, int], Awaitable[Reply]]


class Scripted:
    """An assistant whose every call (one per job attempt) follows the next script line."""

    name = "scripted"

    def __init__(self, *attempts: Attempt) -> None:
        self.attempts = list(attempts)
        self.calls = 0

    async def reply(self, turn: Turn, history: History, progress: Progress) -> Reply:
        self.calls += 1
        attempt = self.attempts[min(self.calls, len(self.attempts)) - 1]
        return await attempt(progress, self.calls)


def answering(words: list[str], *, gate: Gate | None = None, hold_after: int = 0) -> Attempt:
    async def attempt(progress: Progress, _: int) -> Reply:
        await progress.stage("intent", "started")
        await progress.stage("intent", "completed", 20)
        await progress.stage("answer", "started")
        for n, word in enumerate(words):
            if gate is not None and n == hold_after:
                await gate.wait()
            await progress.token(word)
        await progress.stage("answer", "completed", 95)
        return Reply("".join(words), "disposal", "재활용폐기물/무색페트병")

    return attempt


def failing(kind: str, after: list[str] | None = None) -> Attempt:
    async def attempt(progress: Progress, _: int) -> Reply:
        await progress.stage("answer", "started")
        for word in after or []:
            await progress.token(word)
        raise ModelError(kind, "scripted")

    return attempt


def script(app: Litestar, *attempts: Attempt) -> Scripted:
    scripted = Scripted(*attempts)
    app.state.runtime.service("chat", ChatService).assistant = scripted
    return scripted


async def send(live: LiveApp, text: str = "페트병 어떻게 버려?", **headers: str) -> dict[str, Any]:
    chat = (await live.http.post(CHAT, json={})).json()
    return await send_to(live, chat["id"], text, **headers)


async def send_to(live: LiveApp, chat_id: str, text: str, **headers: str) -> dict[str, Any]:
    response = await live.http.post(
        f"{CHAT}/{chat_id}/messages", json={"message": text}, headers=headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def client_text(events: list[Event]) -> str:
    """The text the web client shows: tokens appended, ``token_recovery`` replacing it."""
    text = ""
    for event in events:
        if event.event == "token":
            text += event.data["content"]
        elif event.event == "token_recovery":
            text = event.data["accumulated"]
    return text


async def test_tokens_then_done_and_resume_by_last_event_id(live: LiveApp) -> None:
    gate = Gate()
    script(live.app, answering(WORDS, gate=gate, hold_after=3))
    job = await send(live)
    assert set(job) == {"job_id", "stream_url", "status"}
    assert job["status"] == "queued"
    assert job["stream_url"].startswith(f"/api/v1/chat/{job['job_id']}/events?ticket=")
    # Last-Event-ID: 0 asks for every event, even if the stream connects after some tokens;
    # the connection drops after the first token event, the client comes back with its last id.
    first = await read_stream(
        live.http, job["stream_url"], last_event_id=0, stop=lambda e: e.event == "token"
    )
    await gate.until_entered()
    async with reading(live.http, job["stream_url"], last_event_id=first.ids[-1]) as resuming:
        await asyncio.sleep(0.3)
        gate.open()
        rest = await resuming
    assert rest.ended_by_server
    events = first.events + rest.events
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].event == "queued"
    tokens = [e for e in events if e.event == "token"]
    # words emitted before the attempt next waits share one event (the gate splits them)
    assert [t.data["content"] for t in tokens] == ["".join(WORDS[:3]), "".join(WORDS[3:])]
    assert all(t.data["seq"] == t.id for t in tokens)
    done = events[-1]
    assert (done.event, done.data["status"]) == ("done", "completed")
    assert done.data["result"]["answer"] == "".join(WORDS) == client_text(events)
    persistence = done.data["result"]["persistence"]
    assert persistence["assistant_message"] == job["job_id"]
    assert persistence["user_message"]
    assert persistence["assistant_message_created_at"]


async def test_a_late_subscriber_gets_token_recovery_not_every_token(live: LiveApp) -> None:
    gate = Gate()
    script(live.app, answering(WORDS, gate=gate, hold_after=3))
    job = await send(live)
    await gate.until_entered()
    async with reading(live.http, job["stream_url"]) as late:
        await asyncio.sleep(0.3)
        gate.open()
        stream = await late
    assert "token" in stream.names  # the words streamed after it connected
    recovery = stream.named("token_recovery")
    assert len(recovery) == 1
    assert recovery[0].data["accumulated"] == "".join(WORDS[:3])
    assert recovery[0].data["completed"] is False
    before = stream.names[: stream.names.index("token_recovery")]
    assert "token" not in before
    assert recovery[0].data["last_seq"] == recovery[0].id
    assert [t.data["content"] for t in stream.named("token")] == ["".join(WORDS[3:])]
    assert (
        client_text(stream.events) == "".join(WORDS) == stream.events[-1].data["result"]["answer"]
    )


def counting_writes(log: job_events.EventLog) -> list[list[str]]:
    """The events of each write to ``log`` (one Lua call each), by name, as they happen."""
    writes: list[list[str]] = []
    script = log._emit

    async def write(*, keys: list[str], args: list[Any]) -> Any:
        writes.append([json.loads(entry)[1] for entry in args[7::4]])  # 4 fixed, 4 per event
        return await script(keys=keys, args=args)

    log._emit = write
    return writes


async def test_quick_stages_share_the_write_of_what_follows(live: LiveApp) -> None:
    """A stage that ends soon is written with the next token, not on its own: a quick answer
    is two writes (its stages and words, then ``done``)."""

    async def attempt(progress: Progress, _: int) -> Reply:
        await progress.stage("intent", "started")
        await asyncio.sleep(0.05)  # a short step, e.g. retrieval in a thread
        await progress.stage("intent", "completed", 20)
        await asyncio.sleep(0.05)
        await progress.token("버려요.")
        return Reply("버려요.", "disposal", None)

    script(live.app, attempt)
    writes = counting_writes(live.app.state.runtime.service("chat", ChatService).events)
    job = await send(live)
    stream = await read_stream(live.http, job["stream_url"], last_event_id=0)
    assert stream.names == ["queued", "intent", "intent", "token", "done"]
    assert writes == [["intent", "intent", "token"], ["done"]]


async def test_a_long_stage_shows_while_it_runs(live: LiveApp) -> None:
    """A stage waits for company at most ``STAGE_SECONDS``: one that takes longer is seen
    while it runs."""
    gate = Gate()

    async def attempt(progress: Progress, _: int) -> Reply:
        await progress.stage("intent", "started")
        await gate.wait()
        await progress.token("버려요.")
        return Reply("버려요.", "disposal", None)

    script(live.app, attempt)
    job = await send(live)
    started = await read_stream(
        live.http, job["stream_url"], within=STAGE_SECONDS + 5, stop=lambda e: e.event == "intent"
    )
    assert gate.waiting == 1
    assert started.names == ["queued", "intent"]
    gate.open()
    assert (await read_stream(live.http, job["stream_url"])).names[-1] == "done"


async def test_a_failure_that_will_not_pass_ends_with_done_failed(live: LiveApp) -> None:
    script(live.app, failing("other"))
    stream = await read_stream(live.http, (await send(live))["stream_url"])
    assert stream.ended_by_server
    done = stream.events[-1]
    assert (done.event, done.data["status"]) == ("done", "failed")
    assert done.data["message"]
    assert "error" not in stream.names


async def test_a_passing_failure_is_retried_and_the_stream_goes_on(
    live: LiveApp, settings: Settings
) -> None:
    scripted = script(live.app, failing("temporary", after=["잘못된 ", "말"]), answering(WORDS))
    job = await send(live)
    stream = await read_stream(live.http, job["stream_url"], within=30)
    assert scripted.calls == 2
    error = stream.named("error")
    assert [e.data["error"] for e in error] == ["temporary"]  # the client waits and goes on
    after_error = stream.names[stream.names.index("error") :]
    assert after_error.count("token_recovery") == 1  # the dead attempt's words are dropped
    assert stream.events[-1].event == "done"
    assert stream.events[-1].data["status"] == "completed"
    assert client_text(stream.events) == "".join(WORDS)
    assert [e.id for e in stream.events] == sorted({e.id for e in stream.events})

    error_id = error[0].id
    assert error_id is not None
    resumed = await read_stream(live.http, job["stream_url"], last_event_id=error_id)
    assert resumed.names[-1] == "done"  # a finished job: its end only
    answers = await sql(settings, "SELECT count(*) FROM chat.messages WHERE role = 'assistant'")
    assert answers[0][0] == 1


async def test_an_answer_whose_end_could_not_be_logged_still_ends_its_stream(
    live: LiveApp, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refusing the write of ``done`` past its retries fails the attempt; the next one
    finds the answer stored and ends the stream with it, long before the stream's deadline."""
    monkeypatch.setattr(job_events, "WRITE_RETRY_SECONDS", (0.01, 0.01, 0.01))
    scripted = script(live.app, answering(WORDS))
    refusals = ["before"] * 4
    failing_writes(
        live.app.state.runtime.service("chat", ChatService).events, refusals, only_ends=True
    )
    job = await send(live)
    stream = await read_stream(live.http, job["stream_url"], within=30)
    assert refusals == []
    assert scripted.calls == 1  # the retry did not answer again
    assert (stream.events[-1].event, stream.events[-1].data["status"]) == ("done", "completed")
    assert client_text(stream.events) == "".join(WORDS)
    answers = await sql(settings, "SELECT count(*) FROM chat.messages WHERE role = 'assistant'")
    assert answers[0][0] == 1


async def test_the_last_attempt_failing_ends_with_done_failed(settings: Settings) -> None:
    async with live_app(settings.model_copy(update={"jobs_max_attempts": 2})) as live:
        await live.sign_in()
        scripted = script(live.app, failing("temporary"))
        stream = await read_stream(live.http, (await send(live))["stream_url"], within=30)
    assert scripted.calls == 2
    assert [e.data["error"] for e in stream.named("error")] == ["temporary"]
    done = stream.events[-1]
    assert (done.event, done.data["status"]) == ("done", "failed")


async def test_one_idempotency_key_one_job_one_answer(live: LiveApp, settings: Settings) -> None:
    scripted = script(live.app, answering(WORDS))
    chat = (await live.http.post(CHAT, json={})).json()
    first = await send_to(live, chat["id"], "페트병", **{"Idempotency-Key": "msg-1"})
    again = await send_to(live, chat["id"], "페트병", **{"X-Idempotency-Key": "msg-1"})
    assert first == again
    assert (await read_stream(live.http, first["stream_url"])).names[-1] == "done"
    assert scripted.calls == 1
    messages = await live.http.get(f"{CHAT}/{chat['id']}")
    assert [m["role"] for m in messages.json()["messages"]] == ["user", "assistant"]
    other = await live.http.post(
        f"{CHAT}/{chat['id']}/messages",
        json={"message": "캔"},
        headers={"Idempotency-Key": "msg-1"},
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    rows = await sql(settings, "SELECT count(*) FROM chat.messages")
    assert rows[0][0] == 2


async def test_an_answer_composed_while_the_chat_moved_on_is_stored_once(
    live: LiveApp, settings: Settings
) -> None:
    """An answer is stored in one statement only if its chat is as the job read it; a message
    sent meanwhile (another answer stored first) sends it the locked way, still once."""
    gate = Gate()
    script(live.app, answering(WORDS, gate=gate, hold_after=1), answering(["캔은 ", "캔류로."]))
    chat = (await live.http.post(CHAT, json={})).json()
    first = await send_to(live, chat["id"], "페트병 어떻게 버려?")
    await gate.until_entered()
    second = await send_to(live, chat["id"], "캔은요?")
    assert (await read_stream(live.http, second["stream_url"])).names[-1] == "done"
    gate.open()
    done = (await read_stream(live.http, first["stream_url"])).events[-1]
    assert done.data["result"]["persistence"]["assistant_message"] == first["job_id"]
    messages = (await live.http.get(f"{CHAT}/{chat['id']}")).json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "페트병 어떻게 버려?"),
        ("user", "캔은요?"),
        ("assistant", "캔은 캔류로."),
        ("assistant", "".join(WORDS)),
    ]
    assert [m["id"] for m in messages if m["role"] == "assistant"] == [
        second["job_id"],
        first["job_id"],
    ]
    counted = await sql(
        settings, "SELECT message_count FROM chat.sessions WHERE id = :id", id=chat["id"]
    )
    assert counted[0][0] == 4
