"""Model choice (contract §7: ``model`` is ``gpt-5.2`` or ``gemini-3-flash-preview``): a
configured name answers through its own OpenAI-compatible endpoint, key and model id; any
other name gets the default; the stored answer records which model wrote it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.app import create_app
from eco2.settings import ChatModelSettings, Settings
from tests.chat.conftest import chat_settings, send, stream
from tests.conftest import dev_login
from tests.fakes.models import FakeServer, Reply, fake_openai, text_chunks

CHAT = "/api/v1/chat"


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    with fake_openai(Reply(chunks=text_chunks("OpenAI의 **답변**이에요."))) as server:
        yield server


@pytest.fixture
def gemini_server() -> Iterator[FakeServer]:
    with fake_openai(Reply(chunks=text_chunks("Gemini의 **답변**이에요."))) as server:
        yield server


@pytest.fixture
async def client(
    base_settings: Settings,
    openai_server: FakeServer,
    gemini_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    monkeypatch.setenv("TEST_GEMINI_KEY", "gemini-secret")
    settings = chat_settings(
        base_settings,
        openai_api_key="sk-openai",
        openai_base_url=openai_server.url,
        chat_models={
            "gpt-5.2": ChatModelSettings(model="gpt-5.2"),
            "gemini-3-flash-preview": ChatModelSettings(
                model="gemini-3-flash-preview",
                base_url=gemini_server.url,
                api_key_env="TEST_GEMINI_KEY",
            ),
            "unkeyed": ChatModelSettings(model="x", api_key_env="TEST_NO_SUCH_KEY"),
        },
    )
    async with AsyncTestClient(
        create_app(settings=settings), base_url="http://t.local"
    ) as test_client:
        await dev_login(test_client)
        yield test_client


async def answer(client: AsyncTestClient[Litestar], chat_id: str, **extra: object) -> dict:
    job = await send(client, chat_id, "페트병 어떻게 버려요?", **extra)
    result: dict = (await stream(client, job["stream_url"]))[-1]["data"]["result"]
    return result


async def test_the_picked_model_answers_and_is_recorded(
    client: AsyncTestClient[Litestar], openai_server: FakeServer, gemini_server: FakeServer
) -> None:
    chat = (await client.post(CHAT, json={})).json()
    gemini = await answer(client, chat["id"], model="gemini-3-flash-preview")
    assert gemini["answer"] == "Gemini의 **답변**이에요."
    assert gemini["model"] == "gemini-3-flash-preview"
    assert gemini_server.script.requests[-1]["model"] == "gemini-3-flash-preview"
    assert gemini_server.script.authorizations[-1] == "Bearer gemini-secret"
    gpt = await answer(client, chat["id"], model="gpt-5.2")
    assert gpt["model"] == "gpt-5.2"
    assert openai_server.script.requests[-1]["model"] == "gpt-5.2"
    assert openai_server.script.authorizations[-1] == "Bearer sk-openai"  # OPENAI_API_KEY
    stored = (await client.get(f"{CHAT}/{chat['id']}")).json()["messages"]
    assert [(m["role"], m.get("model")) for m in stored] == [
        ("user", None),
        ("assistant", "gemini-3-flash-preview"),
        ("user", None),
        ("assistant", "gpt-5.2"),
    ]


@pytest.mark.parametrize("model", [None, "claude-9", "unkeyed", ""])
async def test_other_names_get_the_default(
    client: AsyncTestClient[Litestar],
    openai_server: FakeServer,
    gemini_server: FakeServer,
    model: str | None,
) -> None:
    chat = (await client.post(CHAT, json={})).json()
    extra = {} if model is None else {"model": model}
    result = await answer(client, chat["id"], **extra)
    assert result["model"] == "offline"  # ECO2_CHAT_PROVIDER's default here
    assert result["answer"].startswith("**페트병**은")
    assert openai_server.script.requests == []
    assert gemini_server.script.requests == []


def test_models_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ECO2_CHAT_MODELS",
        '{"gemini-3-flash-preview": {"model": "gemini-3-flash-preview", '
        '"base_url": "https://generativelanguage.googleapis.com/v1beta/openai/", '
        '"api_key_env": "GEMINI_API_KEY"}}',
    )
    chosen = Settings(database_url="postgresql://x", redis_url="redis://x").chat_models
    assert chosen["gemini-3-flash-preview"].api_key_env == "GEMINI_API_KEY"
    monkeypatch.setenv("ECO2_CHAT_MODELS", '{"x": {"model": "m", "api_key": "inline"}}')
    with pytest.raises(ValueError, match="api_key"):
        Settings(database_url="postgresql://x", redis_url="redis://x")
