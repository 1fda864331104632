"""The ``openai`` chat path through the real SDK against a local fake model: escaping of
streamed tokens, model failures as SSE ``error`` events, and tool calls with their results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.domains.chat.services import ChatService
from eco2.domains.location.schemas import CenterEntry
from eco2.settings import Settings
from tests.chat.conftest import IMAGE, ask, chat_settings, send, stream
from tests.conftest import dev_login
from tests.fakes.live import client_for
from tests.fakes.models import FakeServer, Reply, fake_openai, text_chunks, tool_chunks

CHAT = "/api/v1/chat"
SEOUL = {"latitude": 37.5665, "longitude": 126.978}
PLACE = CenterEntry(
    id=7,
    name="리필<샵> & 수거함",
    source="test",
    road_address="서울 중구 세종대로 110",
    lot_address=None,
    latitude=37.5663,
    longitude=126.9779,
    distance_km=0.1,
    distance_text="100m",
    store_category="refill_zero",
    pickup_categories=["폐건전지"],
    phone=None,
    place_url=None,
    kakao_place_id=None,
    is_open=None,
    is_holiday=None,
    start_time=None,
    end_time=None,
)


@pytest.fixture
def model() -> Iterator[FakeServer]:
    with fake_openai(Reply(chunks=text_chunks("안녕하세요"))) as server:
        yield server


@pytest.fixture
def settings(base_settings: Settings, model: FakeServer) -> Settings:
    return chat_settings(
        base_settings,
        chat_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=model.url,
        model_timeout_seconds=0.5,
    )


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


async def events_of(client: AsyncTestClient[Litestar], message: str, **extra: Any) -> list[Any]:
    chat = (await client.post(CHAT, json={})).json()
    job = await send(client, chat["id"], message, **extra)
    return [e for e in await stream(client, job["stream_url"]) if e.get("event") != "keepalive"]


async def test_model_tokens_are_escaped_only_bold_survives(
    client: AsyncTestClient[Litestar], user_id: str, model: FakeServer
) -> None:
    raw = '<script>alert("x")</script> **투명 페트병**은 `헹궈서` & 라벨을 떼요.'
    model.reply(Reply(chunks=text_chunks(raw, size=3)))  # tags split across chunks
    events = await events_of(client, "이상한 질문")
    tokens = "".join(e["data"]["content"] for e in events if e["event"] == "token")
    answer = events[-1]["data"]["result"]["answer"]
    assert events[-1]["event"] == "done"
    assert tokens.strip() == answer
    for text in (tokens, answer, (await ask(client, "이상한 질문"))["user_answer"]):
        assert not set('<>`"') & set(text)
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
        assert "**투명 페트병**" in text
        assert "&amp; 라벨" in text


@pytest.mark.parametrize(
    ("reply", "retried"),
    [
        (Reply(status=500), ["temporary"]),
        (Reply(status=400, body={"error": {"message": "bad request"}}), []),
        (Reply(delay=1.5, chunks=text_chunks("늦은 답")), ["timeout"]),
    ],
    ids=["server-error", "rejected", "timeout"],
)
async def test_a_model_failure_ends_the_answer_with_done_failed(
    base_settings: Settings, model: FakeServer, reply: Reply, retried: list[str]
) -> None:
    """A failure that may pass is retried (the client is told with a retriable ``error`` and
    keeps listening); once no attempt is left, or for a failure that will not pass, the
    stream ends with ``done`` ``{status: failed}`` (contract §7)."""
    model.reply(reply)
    twice = chat_settings(
        base_settings,
        chat_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=model.url,
        model_timeout_seconds=0.5,
        model_max_attempts=1,
        jobs_max_attempts=2,
    )
    async with client_for(twice) as client:
        await dev_login(client)
        events = await events_of(client, "페트병 어떻게 버려?")
    assert [e["data"]["error"] for e in events if e["event"] == "error"] == retried
    assert events[-1]["event"] == "done"
    assert events[-1]["data"]["status"] == "failed"
    assert events[-1]["data"]["message"]


async def test_nearby_tool_gets_the_location_and_item_and_its_places_reach_the_answer(
    client: AsyncTestClient[Litestar],
    user_id: str,
    app: Litestar,
    model: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = app.state.runtime.service("chat", ChatService).tools
    calls: list[dict[str, Any]] = []

    async def nearest(latitude: float, longitude: float, **options: Any) -> list[CenterEntry]:
        calls.append({"latitude": latitude, "longitude": longitude, **options})
        return [PLACE]

    monkeypatch.setattr(tools._places, "nearest", nearest)

    def respond(request: dict[str, Any]) -> Reply:
        results = tool_results(request)
        if not results:
            return Reply(chunks=tool_chunks("find_nearby_places", {"item": "폐건전지"}))
        place = results[0]["places"][0]
        return Reply(
            chunks=text_chunks(f"가까운 곳은 **{place['name']}** ({place['distance_text']})")
        )

    model.script.responder = respond
    events = await events_of(client, "근처 건전지 버릴 곳 알려줘", user_location=SEOUL)

    assert calls == [
        {
            **SEOUL,
            "pickup_category": tools.kb.pickup_category("전지"),
            "radius_m": 3000,
            "limit": 3,
        }
    ]
    assert tool_results(model.script.requests[-1]) == [{"places": [msgspec.to_builtins(PLACE)]}]
    result = events[-1]["data"]["result"]
    assert result["intent"] == "nearby"
    assert result["answer"] == "가까운 곳은 **리필&lt;샵&gt; &amp; 수거함** (100m)"
    assert "location" in [e["event"] for e in events]


async def test_nearby_tool_for_a_shop_looks_for_refill_stores(
    client: AsyncTestClient[Litestar],
    user_id: str,
    app: Litestar,
    model: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    async def nearest(latitude: float, longitude: float, **options: Any) -> list[CenterEntry]:
        calls.append(options)
        return []

    monkeypatch.setattr(
        app.state.runtime.service("chat", ChatService).tools._places, "nearest", nearest
    )
    model.script.responder = lambda request: Reply(
        chunks=text_chunks("주변에 가게가 없어요.")
        if tool_results(request)
        else tool_chunks("find_nearby_places", {"item": "", "shop": True})
    )
    events = await events_of(client, "근처 제로웨이스트 가게", user_location=SEOUL)
    assert calls == [{"store_category": "refill_zero", "radius_m": 3000, "limit": 3}]
    assert tool_results(model.script.requests[-1]) == [{"places": []}]
    assert events[-1]["data"]["result"]["answer"] == "주변에 가게가 없어요."


async def test_nearby_tool_without_a_location_tells_the_model_to_ask(
    client: AsyncTestClient[Litestar], user_id: str, model: FakeServer
) -> None:
    model.script.responder = lambda request: Reply(
        chunks=text_chunks("위치를 알려 주세요.")
        if tool_results(request)
        else tool_chunks("find_nearby_places", {"item": "폐건전지"})
    )
    events = await events_of(client, "근처 건전지 수거함")
    assert "위치" in tool_results(model.script.requests[-1])[0]["error"]
    assert events[-1]["data"]["result"]["answer"] == "위치를 알려 주세요."


async def test_photo_tool_scans_the_message_photo_and_its_result_reaches_the_answer(
    client: AsyncTestClient[Litestar],
    user_id: str,
    app: Litestar,
    model: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = app.state.runtime.service("chat", ChatService).tools
    calls: list[tuple[Any, ...]] = []
    original = tools.photo

    async def photo(*args: Any) -> Any:
        calls.append(args)
        return await original(*args)

    monkeypatch.setattr(tools, "photo", photo)

    def respond(request: dict[str, Any]) -> Reply:
        results = tool_results(request)
        if not results:
            return Reply(chunks=tool_chunks("classify_photo", {"note": "다 마신 콜라 캔"}))
        c = results[0]["result"]["classification_result"]["classification"]
        return Reply(chunks=text_chunks(f"**{c['middle_category']}**(으)로 배출해 주세요."))

    model.script.responder = respond
    events = await events_of(client, "이거 어떻게 버려?", image_url=IMAGE)

    assert calls == [(user_id, IMAGE, "다 마신 콜라 캔")]
    first = model.script.requests[0]["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": IMAGE}} in first
    sent = tool_results(model.script.requests[-1])[0]
    middle = sent["result"]["classification_result"]["classification"]["middle_category"]
    assert "금속" in middle or "캔" in middle
    assert sent["reward"] is not None  # the scan pipeline ran in full: a character reward
    result = events[-1]["data"]["result"]
    assert result["intent"] == "photo"
    assert result["answer"] == f"**{middle}**(으)로 배출해 주세요."
    assert result["category"].endswith(f"/{middle}")
    assert "vision" in [e["event"] for e in events]
