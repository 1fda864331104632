"""Jobs that read their chats or store their answers at the same time share one statement
(chat/store.ANSWER_STATES, RECORD_ANSWERS): each job still gets its own chat's state, each
answer is stored once, and an answer whose chat another answer of the batch moved on takes
the locked path."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from eco2.domains.chat import store
from eco2.domains.chat.assistant import Progress, Reply
from eco2.domains.chat.services import ChatService, user_message_id
from eco2.settings import Settings
from tests.chat.test_jobs import CHAT, Attempt, script, send_to
from tests.fakes.db import sql
from tests.fakes.live import LiveApp
from tests.fakes.sse import Gate, read_stream

CHATS = 12


def chats(live: LiveApp) -> ChatService:
    service: ChatService = live.app.state.runtime.service("chat", ChatService)
    return service


def held(gate: Gate) -> Attempt:
    """An assistant attempt that waits at ``gate``, then answers."""

    async def attempt(_: Progress, call: int) -> Reply:
        await gate.wait()
        return Reply(f"답변 {call}", "disposal", None)

    return attempt


def answer_row(chat_id: str, seen: int, content: str) -> store.AnswerRow:
    return store.AnswerRow(
        **store.appended_values(uuid.uuid4(), content),
        chat_id=uuid.UUID(chat_id),
        seen=seen,
        new_summary="",
        new_context='{"topic": null, "topics": []}',
        content=content,
        intent="disposal",
        category=None,
        model=None,
    )


async def answered_chat(live: LiveApp, text: str) -> tuple[str, dict[str, Any]]:
    chat = (await live.http.post(CHAT, json={})).json()["id"]
    job = await send_to(live, chat, text)
    assert (await read_stream(live.http, job["stream_url"])).names[-1] == "done"
    return chat, job


async def test_jobs_released_together_store_each_answer_once_in_fewer_statements(
    live: LiveApp, settings: Settings
) -> None:
    gate = Gate()
    script(live.app, held(gate))
    engine: AsyncEngine = live.app.state.runtime.sessions.kw["bind"]
    records: list[str] = []

    def seen(_: Any, __: Any, statement: str, *___: Any) -> None:
        if "jsonb_to_recordset" in statement and "INSERT INTO chat.messages" in statement:
            records.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    created = [(await live.http.post(CHAT, json={})).json()["id"] for _ in range(CHATS)]
    jobs = [await send_to(live, chat, f"질문 {n}") for n, chat in enumerate(created)]
    # two more messages in the first chat: answers that join one chat in one batch
    jobs += [await send_to(live, created[0], "하나 더"), await send_to(live, created[0], "또")]
    await gate.until_entered(len(jobs))
    gate.open()
    ends = [await read_stream(live.http, job["stream_url"]) for job in jobs]  # one at a time:
    # a user's open streams are limited
    event.remove(engine.sync_engine, "before_cursor_execute", seen)

    assert all(end.events[-1].data["status"] == "completed" for end in ends)
    assert 0 < len(records) < len(jobs)  # shared statements, not one per answer
    stored = await sql(
        settings,
        "SELECT id, session_id FROM chat.messages WHERE role = 'assistant'"
        " AND session_id = ANY(CAST(:ids AS uuid[]))",
        ids=created,
    )
    assert sorted(str(row.id) for row in stored) == sorted(job["job_id"] for job in jobs)
    counts = await sql(
        settings,
        "SELECT id, message_count FROM chat.sessions WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=created,
    )
    assert {str(row.id): row.message_count for row in counts} == {
        chat: 6 if chat == created[0] else 2 for chat in created
    }


async def test_a_batch_stores_one_answer_per_chat_state(live: LiveApp, settings: Settings) -> None:
    """Two answers composed against the same state of one chat: the batch stores one; the
    other is not stored (its job then takes the locked path), nor is a stale one later."""
    chat, _ = await answered_chat(live, "페트병 어떻게 버려?")
    first, second = answer_row(chat, 2, "첫 답"), answer_row(chat, 2, "둘째 답")
    service = chats(live)

    async def both() -> list[Any]:
        return list(await asyncio.gather(*(service.answers.load(a) for a in (first, second))))

    created = await live.call(both)
    assert sum(at is not None for at in created) == 1
    stale = await live.call(lambda: service.answers.load(answer_row(chat, 2, "늦은 답")))
    assert stale is None
    rows = await sql(
        settings,
        "SELECT message_count, (SELECT count(*) FROM chat.messages WHERE session_id = :id)"
        " FROM chat.sessions WHERE id = :id",
        id=chat,
    )
    assert rows == [(3, 3)]


async def test_a_shared_read_gives_each_job_its_own_chat(live: LiveApp) -> None:
    ours, job = await answered_chat(live, "페트병 어떻게 버려?")
    other = (await live.http.post(CHAT, json={})).json()["id"]
    asked = await send_to(live, other, "캔은요?")
    service = chats(live)
    keys = [
        store.StateKey(uuid.UUID(ours), user_message_id(job["job_id"]), uuid.UUID(job["job_id"])),
        # another job id: whether this message's own job answered yet does not matter
        store.StateKey(uuid.UUID(other), user_message_id(asked["job_id"]), uuid.uuid4()),
        store.StateKey(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),  # no such chat
    ]

    async def all_three() -> list[Any]:
        return list(await asyncio.gather(*(service.states.load(key) for key in keys)))

    answered, asking, missing = await live.call(all_three)
    assert answered[0].answer is not None  # stored already: a retry only reports it
    assert [(r.asked, r.answer, r.role) for r in asking] == [
        (user_message_id(asked["job_id"]), None, None)  # nothing before the asked message
    ]
    assert missing is None
