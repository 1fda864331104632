"""The OpenAI providers through the real SDK against a local fake Responses API server."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.app import create_app
from eco2.domains.scan.providers import Clients
from eco2.domains.scan.providers.base import ProviderError
from eco2.settings import Settings
from tests.fakes.live import serve
from tests.fakes.models import (
    FakeServer,
    Reply,
    answer_output,
    fake_openai,
    response_body,
    vision_output,
)
from tests.scan.conftest import IMAGE, classify, scan_settings

# The provider's SDK is a declared dependency; skip cleanly where it is not installed yet.
pytest.importorskip("openai")


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    with fake_openai(Reply(response_body(vision_output()))) as server:
        yield server


@pytest.fixture
def settings(base_settings: Settings, openai_server: FakeServer) -> Settings:
    return scan_settings(
        base_settings,
        vision_provider="openai",
        answer_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=openai_server.url,
        model_timeout_seconds=1.0,
    )


def vision_then_answer(vision: dict[str, Any], answer: dict[str, Any]) -> list[Reply]:
    return [Reply(response_body(vision)), Reply(response_body(answer))]


async def test_structured_output_end_to_end(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    openai_server.reply(*vision_then_answer(vision_output(), answer_output()))
    body = await classify(client, "생수병")
    classification = body["pipeline_result"]["classification_result"]["classification"]
    assert classification == {
        "major_category": "재활용폐기물",
        "middle_category": "무색페트병",
        "minor_category": "먹는샘물 페트병",
    }
    steps = body["pipeline_result"]["final_answer"]["disposal_steps"]
    assert list(steps) == ["1", "2", "3"]  # null steps dropped, order kept
    assert body["reward"]["name"] == "페티"

    vision_request, answer_request = openai_server.script.requests
    schema = vision_request["text"]["format"]
    assert schema["type"] == "json_schema"
    assert schema["strict"] is True
    properties = schema["schema"]["properties"]
    assert "무색페트병" in properties["middle_category"]["enum"]
    assert "label_attached" in properties["conditions"]["items"]["enum"]
    content = vision_request["input"][0]["content"]
    assert {"type": "input_image", "image_url": IMAGE, "detail": "auto"} in content
    assert "생수병" in content[0]["text"]
    assert answer_request["text"]["format"]["name"] == "disposal_answer"
    assert "무색페트병" in answer_request["input"]  # grounded: the rules travel with the request
    assert all(path.endswith("/v1/responses") for path in openai_server.script.paths)


async def test_detected_conditions_become_insufficiencies_and_no_reward(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    vision = vision_output(conditions=["label_attached"])
    answer = answer_output(insufficiencies=["라벨이 붙어 있어요."])
    openai_server.reply(*vision_then_answer(vision, answer))
    body = await classify(client)
    tags = body["pipeline_result"]["classification_result"]["situation_tags"]
    assert tags == ["label_attached"]
    assert body["pipeline_result"]["final_answer"]["insufficiencies"] == ["라벨이 붙어 있어요."]
    assert body["reward"] is None


async def test_rate_limit_and_server_error_are_retried(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    openai_server.reply(
        Reply(status=429, headers={"retry-after": "0.05"}),
        Reply(status=500),
        *vision_then_answer(vision_output(), answer_output()),
    )
    body = await classify(client)
    assert body["status"] == "completed"
    assert len(openai_server.script.requests) == 4


async def test_persistent_errors_fail_the_scan_with_a_code(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    openai_server.reply(Reply(status=503))
    body = await classify(client)
    assert body["status"] == "failed"
    assert body["pipeline_result"] is None
    assert body["reward"] is None
    assert body["error"]["code"] == "model_unavailable"
    assert len(openai_server.script.requests) == 3  # bounded: ECO2_MODEL_MAX_ATTEMPTS
    history = (await client.get("/api/v1/scan/history")).json()["items"]
    assert history[0]["error_code"] == "model_unavailable"


async def test_slow_model_times_out_instead_of_hanging(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    openai_server.reply(Reply(response_body(vision_output()), delay=3.0))
    body = await classify(client)
    assert body["error"]["code"] == "model_timeout"
    assert len(openai_server.script.requests) == 3


async def test_output_outside_the_schema_is_refused(
    client: AsyncTestClient[Litestar], user_id: str, openai_server: FakeServer
) -> None:
    openai_server.reply(Reply(response_body({"middle_category": 3})))
    body = await classify(client)
    assert body["error"]["code"] == "model_bad_output"


def test_missing_key_is_a_configuration_error(base_settings: Settings) -> None:
    settings = scan_settings(base_settings, vision_provider="openai")
    with pytest.raises(ProviderError, match="provider_not_configured"):
        Clients(settings).openai()


async def test_empty_base_url_means_the_default_endpoint(base_settings: Settings) -> None:
    settings = scan_settings(base_settings, openai_api_key="sk-test", openai_base_url="")
    clients = Clients(settings)
    assert str(clients.openai().base_url) == "https://api.openai.com/v1/"
    await clients.aclose()


async def test_photos_on_local_storage_are_sent_inline(
    base_settings: Settings, openai_server: FakeServer
) -> None:
    """A hosted model cannot reach this app's local disk storage: the photo goes as data URL."""

    def make_app(base_url: str) -> Litestar:
        settings = scan_settings(
            base_settings,
            public_base_url=base_url,
            vision_provider="openai",
            openai_api_key="sk-test",
            openai_base_url=openai_server.url,
        )
        return create_app(settings=settings)

    openai_server.reply(*vision_then_answer(vision_output(), answer_output()))
    with serve(make_app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            await http.post("/api/v1/auth/dev/login", json={"nickname": "인라인"})
            ticket = (
                await http.post(
                    "/api/v1/images/scan", json={"filename": "a.png", "content_type": "image/png"}
                )
            ).json()
            put = await http.put(
                ticket["upload_url"], content=PNG, headers={"Content-Type": "image/png"}
            )
            assert put.status_code == 200
            scan = await http.post("/api/v1/scan/classify", json={"image_url": ticket["cdn_url"]})
    assert scan.json()["status"] == "completed"
    image = openai_server.script.requests[0]["input"][0]["content"][1]["image_url"]
    assert image == "data:image/png;base64," + base64.b64encode(PNG).decode()
