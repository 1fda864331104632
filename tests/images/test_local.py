"""The local backend end to end: presign → PUT (no cookies, only Content-Type) → public GET."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.domains.images import services
from eco2.domains.images.interface import is_allowed_image_url
from eco2.platform.runtime import Runtime
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.db import erased
from tests.fakes.live import with_runtime
from tests.images.conftest import exif_of, photo

Client = AsyncTestClient[Litestar]
PNG_BYTES = photo("PNG", gps=False)


async def presign(client: Client, channel: str = "chat", content_type: str = "image/jpeg") -> dict:
    response = await client.post(
        f"/api/v1/images/{channel}",
        json={"filename": "사진.jpg", "content_type": content_type},
    )
    assert response.status_code == 200, response.text
    return response.json()


@asynccontextmanager
async def bare(client: Client) -> AsyncIterator[Client]:
    """Like the web client's bare axios: no cookies, no credentials (contract §3.9)."""
    jar = client.cookies
    client.cookies = httpx.Cookies()
    try:
        yield client
    finally:
        client.cookies = jar


async def put(client: Client, url: str, body: bytes, content_type: str) -> httpx.Response:
    async with bare(client) as anonymous:
        return await anonymous.put(url, content=body, headers={"Content-Type": content_type})


async def test_presign_put_and_read_back_without_gps(client: Client, user_id: str) -> None:
    grant = await presign(client)
    assert set(grant) == {"key", "upload_url", "cdn_url", "expires_in", "required_headers"}
    assert grant["key"].startswith("chat/")
    assert grant["key"].endswith(".jpg")
    assert grant["required_headers"] == {"Content-Type": "image/jpeg"}
    assert grant["expires_in"] == 600
    original = photo("JPEG")
    uploaded = await put(client, grant["upload_url"], original, "image/jpeg")
    assert uploaded.status_code == 200, uploaded.text
    async with bare(client) as anonymous:
        served = await anonymous.get(grant["cdn_url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"
    assert len(served.content) == len(original)
    exif = exif_of(served.content)
    assert dict(exif.get_ifd(0x8825)) == {}
    assert exif[0x0112] == 6
    # The upload callback confirms it (optional for the web client).
    confirmed = await client.post("/api/v1/images/chat/callback", json={"key": grant["key"]})
    assert confirmed.status_code == 200
    assert confirmed.json()["size"] == len(original)
    assert is_allowed_image_url(client.app.state.settings, grant["cdn_url"])


async def test_keys_are_random_per_channel_and_user(client: Client, user_id: str) -> None:
    first, second = (
        await presign(client, "scan", "image/png"),
        await presign(client, "scan", "image/png"),
    )
    assert first["key"] != second["key"]
    assert first["key"].split("/")[:2] == second["key"].split("/")[:2]
    assert first["key"].startswith("scan/")
    assert first["key"].endswith(".png")
    assert user_id not in first["key"]
    mine = (await presign(client, "my", "image/webp"))["key"]
    assert mine.startswith("my/")
    assert mine.endswith(".webp")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"filename": "a.jpg", "content_type": ""}, "content_type", "missing_content_type"),
        (
            {"filename": "a.gif", "content_type": "image/gif"},
            "content_type",
            "unsupported_content_type",
        ),
        (
            {"filename": "a.svg", "content_type": "image/svg+xml"},
            "content_type",
            "unsupported_content_type",
        ),
    ],
)
async def test_presign_refuses_unknown_types(
    client: Client, user_id: str, body: dict, field: str, code: str
) -> None:
    response = await client.post("/api/v1/images/chat", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert "이미지" in error["message"]


async def test_presign_needs_sign_in_and_a_known_channel(client: Client) -> None:
    response = await client.post("/api/v1/images/chat", json={"content_type": "image/png"})
    assert response.status_code == 401
    await dev_login(client)
    wrong = await client.post("/api/v1/images/avatar", json={"content_type": "image/png"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "channel"


async def test_put_refuses_wrong_type_reuse_and_bad_bytes(client: Client, user_id: str) -> None:
    grant = await presign(client, "scan", "image/png")
    wrong_header = await put(client, grant["upload_url"], PNG_BYTES, "image/jpeg")
    assert wrong_header.status_code == 415
    not_a_png = await put(client, grant["upload_url"], b"GIF89a" + b"\x00" * 64, "image/png")
    assert not_a_png.status_code == 422
    assert not_a_png.json()["error"]["code"] == "image_type_mismatch"
    # Refused uploads stored nothing, so the URL still works once; then it is used up.
    assert (await put(client, grant["upload_url"], PNG_BYTES, "image/png")).status_code == 200
    again = await put(client, grant["upload_url"], PNG_BYTES, "image/png")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "upload_url_used"


async def test_an_interrupted_upload_does_not_use_up_the_url(client: Client, user_id: str) -> None:
    """The nonce is claimed only once the whole body is read and stored (issue 12, item 14):
    a connection that drops mid-body leaves the URL to the client's retry."""
    grant = await presign(client, "scan", "image/png")
    token = grant["upload_url"].rsplit("/", 1)[1]

    async def dropped() -> AsyncIterator[bytes]:
        yield PNG_BYTES[:100]
        raise ConnectionResetError("client went away")

    async def interrupted(runtime: Runtime) -> None:
        images = runtime.service("images", services.ImageService)
        assert isinstance(images, services.ImageService)
        with pytest.raises(ConnectionResetError):
            await images.receive_upload(token, "image/png", len(PNG_BYTES), dropped())

    await with_runtime(client, interrupted)
    retry = await put(client, grant["upload_url"], PNG_BYTES, "image/png")
    assert retry.status_code == 200, retry.text
    assert (await client.get(urlsplit(grant["cdn_url"]).path)).content[:8] == PNG_BYTES[:8]


async def test_put_refuses_tampered_and_expired_urls(
    settings: Settings, client: Client, user_id: str
) -> None:
    grant = await presign(client, "chat", "image/png")
    url = grant["upload_url"]
    token = url.rsplit("/", 1)[1]
    forged = url[: -len(token)] + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await put(client, forged, PNG_BYTES, "image/png")).status_code == 401
    expired_settings = settings.model_copy(update={"image_upload_ttl_seconds": 1})
    from eco2.app import create_app

    async with AsyncTestClient(
        create_app(settings=expired_settings), base_url=str(client.base_url)
    ) as short:
        await dev_login(short)
        late = (await short.post("/api/v1/images/chat", json={"content_type": "image/png"})).json()
        import asyncio

        await asyncio.sleep(2.1)
        response = await put(short, late["upload_url"], PNG_BYTES, "image/png")
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "upload_expired"


async def test_put_enforces_the_size_limit_while_streaming(
    settings: Settings, client: Client
) -> None:
    from eco2.app import create_app

    small = settings.model_copy(update={"image_max_bytes": 1024})
    async with AsyncTestClient(create_app(settings=small), base_url=str(client.base_url)) as app:
        await dev_login(app)
        grant = (await app.post("/api/v1/images/chat", json={"content_type": "image/png"})).json()
        big = PNG_BYTES + b"\x00" * 2048

        response = await put(app, grant["upload_url"], big, "image/png")
        assert response.status_code == 413
        assert "까지" in response.json()["error"]["message"]
        path = urlsplit(grant["cdn_url"]).path
        assert (await app.get(path)).status_code == 404


async def test_callback_refuses_foreign_and_unknown_keys(client: Client, user_id: str) -> None:
    grant = await presign(client, "chat", "image/png")
    not_uploaded = await client.post("/api/v1/images/chat/callback", json={"key": grant["key"]})
    assert not_uploaded.status_code == 404
    assert not_uploaded.json()["error"]["code"] == "upload_missing"
    malformed = await client.post("/api/v1/images/chat/callback", json={"key": "../../etc/passwd"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "key"
    other_channel = await client.post("/api/v1/images/scan/callback", json={"key": grant["key"]})
    assert other_channel.status_code == 422
    await dev_login(client, "다른사람")
    foreign = await client.post("/api/v1/images/chat/callback", json={"key": grant["key"]})
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "upload_not_found"


async def test_files_are_public_but_only_real_keys(client: Client, user_id: str) -> None:
    for path in (
        "../../secrets/image-upload-key",
        "chat/x.png",
        "chat/0123456789abcdef0123/aaaaaaaaaaaaaaaaaaaa.png",
    ):
        async with bare(client) as anonymous:
            response = await anonymous.get(f"/api/v1/images/files/{path}")
        assert response.status_code == 404, path


async def test_account_deletion_erases_images(
    client: Client, settings: Settings, user_id: str
) -> None:
    grant = await presign(client, "chat", "image/png")
    assert (await put(client, grant["upload_url"], PNG_BYTES, "image/png")).status_code == 200
    from eco2.domains.images.storage import storage_for

    storage = storage_for(client.app.state.settings)
    assert await storage.stat(grant["key"]) is not None
    assert (await client.delete("/api/v1/user/me")).status_code == 204
    await erased(settings, user_id)  # a job
    assert await storage.stat(grant["key"]) is None


KEY = f"scan/{'0' * 20}/{'A' * 22}.png"


def test_allowed_image_urls(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"image_allowed_hosts": ["cdn.eco2.example", "img.example:8443"], "env": "prod"}
    )
    assert is_allowed_image_url(configured, "https://cdn.eco2.example/chat/a.png")
    assert is_allowed_image_url(configured, "https://img.example:8443/a.png")
    assert is_allowed_image_url(configured, "https://CDN.eco2.example:443/a.png")
    assert not is_allowed_image_url(configured, "http://cdn.eco2.example/a.png")
    assert not is_allowed_image_url(configured, "https://img.example/a.png")
    assert not is_allowed_image_url(configured, "https://evil.example/a.png")
    assert not is_allowed_image_url(configured, "https://user@cdn.eco2.example/a.png")
    assert not is_allowed_image_url(configured, "https://cdn.eco2.example@evil.example/a.png")
    assert not is_allowed_image_url(configured, "file:///etc/passwd")
    assert is_allowed_image_url(settings, f"http://testserver.local/api/v1/images/files/{KEY}")


@pytest.mark.parametrize(
    "url",
    [
        # the storage's own host, but not a stored image (issue 12, item 3)
        "http://testserver.local/internal/users/erase",
        "http://testserver.local/metrics",
        "http://testserver.local/api/v1/user/me",
        "http://testserver.local/api/v1/images/files/../../../metrics",
        f"http://testserver.local/api/v1/images/files/{KEY}/../../../../metrics",
        f"http://testserver.local/api/v1/images/files/{KEY}?x=1",
        f"http://testserver.local/api/v1/images/files/{KEY}%2F..",
        f"http://testserver.local:81/api/v1/images/files/{KEY}",
        # malformed: surrounding space, bad ports, userinfo, control characters
        f" http://testserver.local/api/v1/images/files/{KEY}",
        f"http://testserver.local/api/v1/images/files/{KEY} ",
        f"http://testserver.local:80:80/api/v1/images/files/{KEY}",
        f"http://testserver.local:0/api/v1/images/files/{KEY}",
        f"http://testserver.local:65536/api/v1/images/files/{KEY}",
        f"http://u:p@testserver.local/api/v1/images/files/{KEY}",
        f"http://testserver.local\\@evil/api/v1/images/files/{KEY}",
        f"http://testserver.local/api/v1/images/files/{KEY}\n",
        f"http://testserver.local/api/v1/images/files/\t{KEY}",
        f"ftp://testserver.local/api/v1/images/files/{KEY}",
    ],
)
def test_only_stored_images_of_the_storage_host_pass(settings: Settings, url: str) -> None:
    assert not is_allowed_image_url(settings, url)


async def test_the_limit_holds_while_streaming_without_a_content_length() -> None:
    """The test client cannot stream a request body, so the reader is checked directly."""
    consumed = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(100):
            consumed.append(index)
            yield b"\x00" * 512

    with pytest.raises(services.TooLarge):
        await services._receive(chunks(), 2048, services.TooLarge("too large"))
    assert len(consumed) == 5  # stopped reading right after the limit
