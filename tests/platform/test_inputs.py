"""The edge input policy: hostile or malformed input is a 4xx with the usual error shape, never
a 5xx (issue 12, items 5-9): deep JSON, NUL and unpaired surrogates in bodies, query strings
and path parameters, cursors that overflow, image URLs with a bad port, non-ASCII tokens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.fakes.live import serve_app
from tests.images.conftest import photo
from tests.scan.conftest import IMAGE, scan_settings

Client = AsyncTestClient[Litestar]
PNG = photo("PNG", gps=False)


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(base_settings)


def assert_client_error(response: Any, status: int | tuple[int, ...], code: str | None = None):
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    if code:
        assert error["code"] == code, error
    return error


JSON_ROUTES = [
    ("POST", "/api/v1/chat"),
    ("POST", "/api/v1/chat/messages"),
    ("POST", "/api/v1/scan/classify"),
    ("POST", "/api/v1/scan"),
    ("POST", "/api/v1/images/scan"),
    ("PATCH", "/api/v1/user/me"),
    ("POST", "/api/v1/auth/dev/login"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_deeply_nested_json_is_a_400(
    client: Client, user_id: str, method: str, path: str
) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = await client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert_client_error(response, 400, "json_too_deep")


async def test_moderately_nested_json_still_reaches_validation(
    client: Client, user_id: str
) -> None:
    nested: Any = "x"
    for _ in range(8):
        nested = {"a": nested}
    response = await client.post("/api/v1/chat", json={"title": "제목", "extra": nested})
    assert response.status_code == 201, response.text


async def test_oversized_json_body_is_a_413(client: Client, user_id: str) -> None:
    response = await client.post("/api/v1/chat", json={"title": "x" * (2 * 1024 * 1024)})
    assert_client_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/chat", {"title": "a\u0000b"}, "title"),
        ("/api/v1/chat/messages", {"message": "폐\u0000건전지", "temperature": 0.2}, "message"),
        ("/api/v1/scan/classify", {"image_url": IMAGE, "user_input": "캔\u0000"}, "user_input"),
        ("/api/v1/scan/classify", {"image_url": IMAGE + "\u0000"}, "image_url"),
        ("/api/v1/scan", {"image_url": IMAGE, "user_input": "\u0000"}, "user_input"),
        ("/api/v1/auth/dev/login", {"nickname": "닉\u0000"}, "nickname"),
    ],
)
async def test_nul_in_a_json_string_is_a_422_naming_the_field(
    client: Client, user_id: str, path: str, body: dict[str, Any], field: str
) -> None:
    error = assert_client_error(await client.post(path, json=body), 422, "invalid_text")
    assert error["field"] == field


async def test_nul_in_a_nested_json_string_names_its_path(client: Client, user_id: str) -> None:
    chat = (await client.post("/api/v1/chat", json={})).json()["id"]
    body = {"message": "근처", "user_location": {"latitude": 37.5, "longitude": 127.0}, "x": ["\0"]}
    response = await client.post(f"/api/v1/chat/{chat}/messages", json=body)
    assert assert_client_error(response, 422, "invalid_text")["field"] == "x[0]"


@pytest.mark.parametrize(
    "body",
    [b'{"title": "\\ud800"}', b'{"title": "\\udc00x"}', b'{"title": "\xed\xa0\x80"}'],
)
async def test_unpaired_surrogates_in_a_body_are_refused(
    client: Client, user_id: str, body: bytes
) -> None:
    response = await client.post(
        "/api/v1/chat", content=body, headers={"content-type": "application/json"}
    )
    assert_client_error(response, (400, 422))


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/locations/search?q=%00",
        "/api/v1/locations/suggest?q=%00",
        "/api/v1/locations/search?q=a%00b",
        "/api/v1/locations/suggest?q=%ED%A0%80",
        "/api/v1/info/items?q=%00",
        "/api/v1/scan/history?cursor=%00",
        "/api/v1/chat?cursor=%ff%fe",
    ],
)
async def test_nul_and_invalid_text_in_query_strings_are_422(
    client: Client, user_id: str, url: str
) -> None:
    error = assert_client_error(await client.get(url), 422, "invalid_text")
    assert error["field"] in ("q", "cursor")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/chat/%00",
        "/api/v1/locations/centers/%00",
        "/api/v1/info/items/a%00",
        "/api/v1/scan/%ED%A0%80/result",
    ],
)
async def test_nul_and_invalid_text_in_path_parameters_are_4xx(
    client: Client, user_id: str, url: str
) -> None:
    assert_client_error(await client.get(url), (404, 422))


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01T00:00:00"],
)
async def test_cursors_that_overflow_or_lack_a_zone_are_422(
    client: Client, user_id: str, moment: str
) -> None:
    cursor = _cursor(f"{moment}|{uuid.uuid4()}")
    chat = (await client.post("/api/v1/chat", json={})).json()["id"]
    for path in ("/api/v1/chat", f"/api/v1/chat/{chat}", "/api/v1/scan/history"):
        response = await client.get(path, params={"cursor": cursor})
        assert assert_client_error(response, 422)["field"] == "cursor"


@pytest.mark.parametrize(
    "url",
    [
        "http://testserver.local:8000:80/x.jpg",
        "https://cdn.eco2.test:99999/x.png",
        "https://cdn.eco2.test:-1/x.png",
        "https://cdn.eco2.test:abc/x.png",
        " https://cdn.eco2.test/x.png",
        "https://cdn.eco2.test/x.png ",
        "https://[::1/x.png",
    ],
)
async def test_malformed_image_urls_are_422(client: Client, user_id: str, url: str) -> None:
    for path in ("/api/v1/scan/classify", "/api/v1/scan"):
        response = await client.post(path, json={"image_url": url})
        assert_client_error(response, 422)
    legacy = await client.post(
        "/api/v1/chat/messages", json={"message": "이거", "temperature": 0.2, "image_url": url}
    )
    assert_client_error(legacy, 422)


@pytest.mark.parametrize(
    "token", ["%10%28%C3%B7", "%C3%A9.%C3%A9", "abc.%EC%95%88", "a" * 600 + ".b"]
)
async def test_non_ascii_or_huge_upload_tokens_are_refused(client: Client, token: str) -> None:
    response = await client.put(
        f"/api/v1/images/uploads/{token}", content=b"x", headers={"content-type": "image/png"}
    )
    assert_client_error(response, (401, 404, 422))


# --- slow clients (item 14) ------------------------------------------------------------------


async def _trickle(host: str, port: int, head: bytes, every: float) -> tuple[bytes, float]:
    """Send ``head`` then one body byte per ``every`` seconds until the server answers."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(head)
    await writer.drain()
    answer = asyncio.ensure_future(reader.read(65536))
    try:
        while not answer.done() and time.monotonic() - started < 20:
            with contextlib.suppress(ConnectionError):
                writer.write(b"x")
                await writer.drain()
            await asyncio.wait([answer], timeout=every)
        if not answer.done():  # held for the whole trickle: no answer at all
            answer.cancel()
            return b"", time.monotonic() - started
        response = await answer
        elapsed = time.monotonic() - started
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(65536), 2):  # headers, then body
                response += chunk
        return response, elapsed
    finally:
        writer.close()


async def test_a_trickled_body_is_cut_off_with_408(settings: Settings) -> None:
    slow = settings.model_copy(update={"body_grace_seconds": 1.0, "body_min_rate_bytes": 100})
    with serve_app(slow) as base:
        host, port = base.removeprefix("http://").split(":")
        head = (
            f"POST /api/v1/auth/dev/login HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        ).encode()
        results = await asyncio.gather(*(_trickle(host, int(port), head, 0.3) for _ in range(20)))
    for answer, elapsed in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"body_timeout" in answer
        assert elapsed < 5, elapsed  # not held for as long as the client keeps trickling


async def test_a_trickled_upload_is_cut_off_and_its_url_still_works(settings: Settings) -> None:
    slow = settings.model_copy(update={"body_grace_seconds": 1.0, "body_min_rate_bytes": 100})
    with serve_app(slow) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            await http.post("/api/v1/auth/dev/login", json={"nickname": "느린업로드"})
            grant = await http.post("/api/v1/images/scan", json={"content_type": "image/png"})
            upload = urlsplit(grant.json()["upload_url"])
            host, port = base.removeprefix("http://").split(":")
            head = (
                f"PUT {upload.path} HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: image/png\r\nContent-Length: {len(PNG)}\r\n\r\n"
            ).encode() + PNG[:40]
            answer, _ = await _trickle(host, int(port), head, 0.3)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            retry = await http.put(
                grant.json()["upload_url"], content=PNG, headers={"content-type": "image/png"}
            )
            assert retry.status_code == 200, retry.text


async def test_the_body_deadline_ends_with_the_body(settings: Settings) -> None:
    """Once the body is in, waiting on ``receive`` (a stream watching for the client to leave)
    has no deadline: a long answer is not cut off as a slow body."""
    from eco2.platform.inputs import InputPolicy, paced

    messages: list[Any] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Any:
        if messages:
            return messages.pop()
        await asyncio.sleep(0.3)
        return {"type": "http.disconnect"}

    policy = InputPolicy(max_json_bytes=10, max_json_depth=2, min_body_rate=1, grace_seconds=0.01)
    wrapped = paced(receive, policy)
    assert (await wrapped())["type"] == "http.request"
    assert (await wrapped())["type"] == "http.disconnect"  # 0.3 s later, past the grace
