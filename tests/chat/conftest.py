"""Chat tests: the offline assistant by default, photos on an allowed test image host."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

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


async def stream(client: AsyncTestClient[Litestar], stream_url: str) -> list[dict[str, Any]]:
    """Follow a job's stream to its end, then return every event the job logged (a stream
    opened after the job ended sends only its last event; these tests read the content)."""
    response = await client.get(stream_url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert parse_sse(response.text)[-1]["event"] == "done"
    settings: Settings = client.app.state.runtime.settings
    redis = Redis.from_url(settings.redis_url or "")
    try:
        raw = await redis.lrange(f"chat:events:{stream_url.split('/')[-2]}", 0, -1)
    finally:
        await redis.aclose()
    return [
        {"event": name, "id": str(seq), "data": data}
        for seq, name, data in (msgspec.json.decode(r) for r in raw)
    ]
