"""Intent accuracy on tests/data/chat_intents.yaml, offline and through the fake LLM path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.chat.conftest import IMAGE, chat_settings, send, stream
from tests.chat.evaluation import Case, Score, cases
from tests.fakes.models import FakeServer, Reply, fake_openai, text_chunks, tool_chunks

OFFLINE_INTENT_FLOOR = 0.95  # overall, dev and holdout together
INTENT_FLOOR = 0.9  # every intent on its own
OFFLINE_CATEGORY_FLOOR = 0.8
LLM_INTENT_FLOOR = 0.9


async def evaluate(client: AsyncTestClient[Litestar]) -> Score:
    score = Score()
    misses = []
    for case in cases():
        chat = (await client.post("/api/v1/chat", json={})).json()
        extra: dict[str, Any] = {"image_url": IMAGE} if case.image else {}
        job = await send(client, chat["id"], case.text, **extra)
        last = (await stream(client, job["stream_url"]))[-1]
        assert "result" in last["data"], last
        result = last["data"]["result"]
        score.add(case, result["intent"], result["category"])
        if result["intent"] != case.intent:
            misses.append((case.text, case.intent, result["intent"]))
    print(
        f"\nintent accuracy {score.intent_accuracy:.3f} ({score.intent_hits}/{score.intents}), "
        f"category accuracy {score.category_accuracy:.3f} "
        f"({score.category_hits}/{score.categories})"
    )
    print(score.table())
    print("misses:", misses)
    return score


def test_evaluation_set_is_big_enough() -> None:
    all_cases = cases()
    assert len(all_cases) >= 60
    assert {c.intent for c in all_cases} == {
        "disposal",
        "photo",
        "nearby",
        "character",
        "greeting",
        "general",
        "off_topic",
    }
    assert sum(c.split == "holdout" for c in all_cases) >= 30


async def test_offline_intent_accuracy(settings: Settings, app: Litestar) -> None:
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        from tests.conftest import dev_login

        await dev_login(client)
        score = await evaluate(client)
    assert score.intent_accuracy >= OFFLINE_INTENT_FLOOR
    assert score.category_accuracy >= OFFLINE_CATEGORY_FLOOR
    for intent in score.by_intent:
        assert score.accuracy(intent) >= INTENT_FLOOR, intent


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return chat_settings(base_settings, chat_rate_limit=10_000)


# --- the LLM path: a fake model that routes like a well-behaved one ------------------------


def _router(by_text: dict[str, Case]) -> Any:
    tools = {
        "disposal": "search_waste_rules",
        "photo": "classify_photo",
        "nearby": "find_nearby_places",
        "character": "list_characters",
    }

    def respond(request: dict[str, Any]) -> Reply:
        messages = request["messages"]
        if messages[-1]["role"] == "tool":
            return Reply(chunks=text_chunks("지식베이스 결과로 안내드려요. **확인** 완료!"))
        content = messages[-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        case = by_text.get(text)
        intent = case.intent if case else "greeting"
        if intent in tools:
            args = {
                "disposal": {"query": text},
                "photo": {"note": text},
                "nearby": {"item": ""},
                "character": {},
            }[intent]
            return Reply(chunks=tool_chunks(tools[intent], args))
        return Reply(chunks=text_chunks("안녕하세요! 분리배출을 도와드릴게요."))

    return respond


@pytest.fixture
def llm_server() -> Iterator[FakeServer]:
    with fake_openai(Reply(chunks=text_chunks("안녕"))) as server:
        yield server


async def test_llm_path_intent_accuracy(base_settings: Settings, llm_server: FakeServer) -> None:
    from eco2.app import create_app
    from tests.conftest import dev_login

    by_text = {c.text or "이 이미지 분류해줘": c for c in cases()}
    llm_server.script.responder = _router(by_text)
    settings = chat_settings(
        base_settings,
        chat_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=llm_server.url,
        chat_rate_limit=10_000,
    )
    async with AsyncTestClient(
        create_app(settings=settings), base_url="http://testserver.local"
    ) as client:
        await dev_login(client)
        score = await evaluate(client)
    assert score.intent_accuracy >= LLM_INTENT_FLOOR
    assert score.category_accuracy >= OFFLINE_CATEGORY_FLOOR
