"""Chat tests: the offline assistant by default, photos on an allowed test image host."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.fakes.sse import parse_sse

IMAGE_HOST = "cdn.eco2.test"
IMAGE = f"https://{IMAGE_HOST}/chat/photo.png"
LEGACY = "/api/v1/chat/messages"

__all__ = ["IMAGE", "LEGACY", "ask", "chat_settings", "parse_sse", "send", "stream"]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return chat_settings(base_settings)


def chat_settings(base: Settings, **update: Any) -> Settings:
    values = {
        "image_allowed_hosts": [IMAGE_HOST],
        "vision_provider": "text",
        "answer_provider": "template",
        "chat_keepalive_seconds": 0.2,
        **update,
    }
    return base.model_copy(update=values)


async def ask(
    client: AsyncTestClient[Litestar],
    message: str,
    session_id: str | None = None,
    image_url: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "temperature": 0.2, "image_url": image_url}
    if session_id:
        body["session_id"] = session_id
    response = await client.post(LEGACY, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def send(
    client: AsyncTestClient[Litestar], chat_id: str, message: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/chat/{chat_id}/messages", json={"message": message, **extra}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def stream(
    client: AsyncTestClient[Litestar], stream_url: str, last_event_id: int | None = None
) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    response = await client.get(stream_url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)
