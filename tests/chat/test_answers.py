"""What the offline assistant answers: grounded, multi-turn, escaped, streamed and resumable."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from eco2.domains.chat.services import ChatService
from eco2.platform.db import async_url
from eco2.settings import Settings
from tests.chat.conftest import IMAGE, ask, parse_sse, send, stream
from tests.conftest import dev_login
from tests.fakes.db import erased

CHAT = "/api/v1/chat"


async def test_follow_up_resolves_against_the_previous_turn(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    first = await ask(client, "생수 페트병은 어떻게 버려요?")
    assert "무색페트병" in first["user_answer"]
    follow = await ask(client, "그럼 뚜껑은요?", first["session_id"])
    assert "병뚜껑" in follow["user_answer"]
    assert "플라스틱류" in follow["user_answer"]
    other = await ask(client, "그럼 유리병은요?", first["session_id"])
    assert "**유리병**" in other["user_answer"]
    fresh = await ask(client, "그럼 뚜껑은요?")  # no earlier turn: a plain lookup
    assert fresh["session_id"] != first["session_id"]


async def test_answers_name_their_category_or_admit_ignorance(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    answer = (await ask(client, "영수증 버리는 법"))["user_answer"]
    assert "일반종량제폐기물" in answer
    assert "근거" in answer
    unknown = (await ask(client, "우주선 엔진 버리는 법"))["user_answer"]
    assert "찾지 못했어요" in unknown
    off = (await ask(client, "주식 추천해줘"))["user_answer"]
    assert "분리배출" in off


async def test_user_text_is_escaped_only_bold_remains(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    # The legacy answer is set as HTML: our only markup is <br/> (its lines); the rest escaped.
    answer = (await ask(client, "<script>alert(1)</script> 버리는 법 <b>x</b>"))["user_answer"]
    assert "<" not in answer.replace("<br/>", "")
    assert ">" not in answer.replace("<br/>", "")
    assert "&lt;script&gt;" in answer
    for message in ("페트병", "근처 수거함 어디야?", "내 캐릭터 보여줘", "안녕"):
        body = (await ask(client, message))["user_answer"].replace("<br/>", "")
        assert "<" not in body
        assert ">" not in body
        assert body.count("**") % 2 == 0


async def test_photo_runs_the_scan_pipeline(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    answer = (await ask(client, "다 마신 콜라 캔", image_url=IMAGE))["user_answer"]
    assert "금속류" in answer
    assert "메탈리" in answer  # the scan's reward
    history = (await client.get("/api/v1/scan/history")).json()
    assert len(history["items"]) == 1


async def test_nearby_asks_for_a_place_then_uses_the_location(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    assert "위치" in (await ask(client, "근처 폐건전지 수거함 어디야?"))["user_answer"]
    chat = (await client.post(CHAT, json={})).json()
    job = await send(
        client,
        chat["id"],
        "근처 폐건전지 수거함 어디야?",
        user_location={"latitude": 37.5665, "longitude": 126.978},
    )
    done = (await stream(client, job["stream_url"]))[-1]["data"]["result"]
    assert done["intent"] == "nearby"
    assert "수거" in done["answer"]


async def test_characters_catalog_and_owned(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    answer = (await ask(client, "도감에 어떤 캐릭터가 있어?"))["user_answer"]
    assert "이코" in answer
    assert "페이피" in answer


async def test_stream_events_tokens_done(client: AsyncTestClient[Litestar], user_id: str) -> None:
    chat = (await client.post(CHAT, json={})).json()
    job = await send(client, chat["id"], "건전지 버리는 법")
    assert set(job) == {"job_id", "stream_url", "status"}
    assert job["status"] == "queued"
    assert job["stream_url"].startswith(f"/api/v1/chat/{job['job_id']}/events?ticket=")
    events = [e for e in await stream(client, job["stream_url"]) if e.get("event") != "keepalive"]
    names = [e["event"] for e in events]
    assert names[0] == "queued"
    assert names[-1] == "done"
    for stage in ("intent", "waste_rag", "answer"):
        assert stage in names
    tokens = [e for e in events if e["event"] == "token"]
    assert tokens  # the offline answer is composed at once: its words share an event
    assert all(t["data"]["seq"] == int(t["id"]) for t in tokens)
    done = events[-1]["data"]
    assert "".join(t["data"]["content"] for t in tokens) == done["result"]["answer"]
    assert done["result"]["category"] == "재활용폐기물/전지"
    persistence = done["result"]["persistence"]
    assert persistence["assistant_message"]
    assert persistence["user_message"]
    assert persistence["assistant_message_created_at"]


async def test_keepalive_while_waiting(
    client: AsyncTestClient[Litestar], user_id: str, app: Litestar
) -> None:
    service = app.state.runtime.service("chat", ChatService)
    original = service.assistant.reply

    async def slow(*args: object) -> object:
        import asyncio

        await asyncio.sleep(0.7)
        return await original(*args)

    service.assistant.reply = slow
    chat = (await client.post(CHAT, json={})).json()
    job = await send(client, chat["id"], "캔")
    events = parse_sse((await client.get(job["stream_url"])).text)
    assert "keepalive" in [e.get("event") for e in events]
    assert events[-1]["event"] == "done"


async def test_a_crashed_answer_ends_with_done_failed(
    client: AsyncTestClient[Litestar], user_id: str, app: Litestar
) -> None:
    async def broken(*_: object) -> object:
        raise RuntimeError("boom")

    app.state.runtime.service("chat", ChatService).assistant.reply = broken
    chat = (await client.post(CHAT, json={})).json()
    events = await stream(client, (await send(client, chat["id"], "캔"))["stream_url"])
    assert events[-1]["event"] == "done"
    assert events[-1]["data"]["status"] == "failed"
    assert events[-1]["data"]["message"]
    assert "error" not in [e["event"] for e in events]  # nothing retriable: the client stops


async def test_rate_limit_is_a_clear_429(client: AsyncTestClient[Litestar], app: Litestar) -> None:
    await dev_login(client)
    limit = app.state.runtime.settings.chat_rate_limit
    for _ in range(limit):
        await ask(client, "안녕")
    response = await client.post("/api/v1/chat/messages", json={"message": "안녕"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "chat_rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    await dev_login(client, "다른사람")  # per user
    await ask(client, "안녕")


async def test_account_deletion_erases_chats(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    user_id = await dev_login(client)
    await ask(client, "페트병")
    response = await client.delete("/api/v1/users/me")
    assert response.status_code in (200, 204), response.text
    await erased(settings, user_id)
    engine = create_async_engine(async_url(settings.database_url or ""))
    async with engine.connect() as conn:
        for table in ("chat.sessions", "chat.messages"):
            query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
            assert (await conn.execute(query)).scalar() == 0
    await engine.dispose()
