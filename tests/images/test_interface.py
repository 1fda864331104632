"""The images interface (``images/interface.py``) both ways: the photo URLs images hands out are
the ones scan accepts and reads, whether images runs in scan's process or in its own.

The interface is settings-derived (which URLs may be fetched, where this deployment serves its
own files), so what must hold across processes is the outcome: a photo uploaded through the
images domain is accepted by scan, fetched from wherever images serves it, and sent to a hosted
model inline (a model cannot reach our local storage)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar

from eco2.app import create_app
from eco2.registry import DOMAIN_NAMES
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
from tests.fakes.split import OVER_HTTP, SIDES, Cluster
from tests.images.conftest import photo

PNG = photo("PNG", gps=False)


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    replies = [Reply(response_body(vision_output())), Reply(response_body(answer_output()))]
    with fake_openai(*replies) as server:
        yield server


@pytest.mark.parametrize("side", SIDES)
async def test_scan_reads_the_photo_images_hands_out(
    side: str, settings: Settings, cluster: Cluster, openai_server: FakeServer
) -> None:
    settings = settings.model_copy(
        update={
            "vision_provider": "openai",
            "answer_provider": "openai",
            "openai_api_key": "sk-test",
            "openai_base_url": openai_server.url,
        }
    )
    split = side == OVER_HTTP
    if split:
        await cluster.start("images")
        settings = cluster.reaching(settings, "images")

    def make_app(url: str) -> Litestar:
        if split:
            return create_app([d for d in DOMAIN_NAMES if d != "images"], settings=settings)
        return create_app(settings=settings.model_copy(update={"public_base_url": url}))

    with serve(make_app) as app_url:
        images_url = cluster.urls["images"] if split else app_url
        async with httpx.AsyncClient(timeout=30) as http:
            login = await http.post(f"{app_url}/api/v1/auth/dev/login", json={"nickname": "사진"})
            signed_in = {"Authorization": f"Bearer {login.cookies['s_access']}"}
            ticket = await http.post(
                f"{images_url}/api/v1/images/scan",
                json={"filename": "a.png", "content_type": "image/png"},
                headers=signed_in,
            )
            assert ticket.status_code == 200, ticket.text
            photo_url = ticket.json()["cdn_url"]
            put = await http.put(
                ticket.json()["upload_url"], content=PNG, headers={"Content-Type": "image/png"}
            )
            assert put.status_code == 200, put.text
            stored = (await http.get(photo_url)).content
            scan = await http.post(
                f"{app_url}/api/v1/scan/classify", json={"image_url": photo_url}, headers=signed_in
            )

    assert photo_url.startswith(f"{images_url}/api/v1/images/files/scan/")
    assert scan.status_code == 200, scan.text
    assert scan.json()["status"] == "completed"
    sent = openai_server.script.requests[0]["input"][0]["content"][1]["image_url"]
    assert sent == "data:image/png;base64," + base64.b64encode(stored).decode()
