"""Scan tests: offline providers by default, photos on an allowed test image host."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings

# Item embeddings are computed once and reused across runs (retrieval's own file cache).

IMAGE_HOST = "cdn.eco2.test"
IMAGE = f"https://{IMAGE_HOST}/scan/photo.png"
CLASSIFY = "/api/v1/scan/classify"


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(base_settings)


def scan_settings(base: Settings, **update: Any) -> Settings:
    values = {
        "image_allowed_hosts": [IMAGE_HOST],
        "vision_provider": "text",
        "answer_provider": "template",
        **update,
    }
    return base.model_copy(update=values)


async def classify(
    client: AsyncTestClient[Litestar], user_input: str | None = None, image_url: str = IMAGE
) -> dict[str, Any]:
    body: dict[str, Any] = {"image_url": image_url}
    if user_input is not None:
        body["user_input"] = user_input
    response = await client.post(CLASSIFY, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
