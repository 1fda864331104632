"""The S3 backend against moto in server mode: real aioboto3 presigned URLs, real HTTP PUTs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aioboto3
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.app import create_app
from eco2.domains.images.interface import is_allowed_image_url
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.images.conftest import exif_of, photo

BUCKET = "eco2-test-images"
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}
Client = AsyncTestClient[Litestar]


@pytest.fixture
async def s3_client(
    settings: Settings, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Client]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    async with aioboto3.Session().client("s3", endpoint_url=moto_server) as s3:
        await s3.create_bucket(Bucket=BUCKET)
        # As deployed: objects are publicly readable (bucket policy, or a CDN in front).
        await s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
    s3_settings = settings.model_copy(
        update={
            "image_storage": "s3",
            "image_s3_bucket": BUCKET,
            "image_s3_endpoint_url": moto_server,
            "image_max_bytes": 64 * 1024,
        }
    )
    async with AsyncTestClient(
        create_app(settings=s3_settings), base_url="http://testserver.local"
    ) as client:
        await dev_login(client)
        yield client


async def presign(client: Client, content_type: str) -> dict:
    response = await client.post(
        "/api/v1/images/scan", json={"filename": "x", "content_type": content_type}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_presigned_put_needs_only_content_type(s3_client: Client, moto_server: str) -> None:
    grant = await presign(s3_client, "image/jpeg")
    query = parse_qs(urlsplit(grant["upload_url"]).query)
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]
    assert grant["cdn_url"] == f"{moto_server}/{BUCKET}/{grant['key']}"
    body = photo("JPEG")
    async with httpx.AsyncClient() as browser:  # bare axios: no cookies, just Content-Type
        uploaded = await browser.put(
            grant["upload_url"], content=body, headers={"Content-Type": "image/jpeg"}
        )
        assert uploaded.status_code == 200, uploaded.text
        public = await browser.get(grant["cdn_url"])
    assert public.status_code == 200, (public.status_code, public.text[:300], grant["cdn_url"])
    assert public.content == body
    confirmed = await s3_client.post("/api/v1/images/scan/callback", json={"key": grant["key"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {
        "key": grant["key"],
        "cdn_url": grant["cdn_url"],
        "content_type": "image/jpeg",
        "size": len(body),
    }
    assert exif_of(public.content)[0x0112] == 6
    assert is_allowed_image_url(s3_client.app.state.settings, grant["cdn_url"])


async def test_callback_verifies_existence_type_and_size(s3_client: Client) -> None:
    missing = await presign(s3_client, "image/png")
    response = await s3_client.post("/api/v1/images/scan/callback", json={"key": missing["key"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "upload_missing"

    fake = await presign(s3_client, "image/png")
    oversize = await presign(s3_client, "image/png")
    async with httpx.AsyncClient() as browser:
        for grant, body in (
            (fake, b"<html>not an image</html>"),
            (oversize, photo("PNG", (400, 400)) + bytes(70 * 1024)),
        ):
            put = await browser.put(
                grant["upload_url"], content=body, headers={"Content-Type": "image/png"}
            )
            assert put.status_code == 200
    wrong = await s3_client.post("/api/v1/images/scan/callback", json={"key": fake["key"]})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "image_type_mismatch"
    large = await s3_client.post("/api/v1/images/scan/callback", json={"key": oversize["key"]})
    assert large.status_code == 413
    # Refused objects are deleted: a second callback finds nothing.
    again = await s3_client.post("/api/v1/images/scan/callback", json={"key": fake["key"]})
    assert again.status_code == 404


async def test_account_deletion_erases_s3_objects(s3_client: Client, moto_server: str) -> None:
    grant = await presign(s3_client, "image/png")
    async with httpx.AsyncClient() as browser:
        await browser.put(
            grant["upload_url"], content=photo("PNG"), headers={"Content-Type": "image/png"}
        )
    me = (await s3_client.get("/api/v1/user/me")).json()
    assert me["username"]
    from eco2.domains.images.services import owner_segment
    from eco2.domains.images.storage import storage_for

    storage = storage_for(s3_client.app.state.settings)
    prefix = grant["key"].rsplit("/", 1)[0] + "/"
    assert prefix.split("/")[1] == grant["key"].split("/")[1]
    assert await storage.delete_prefix(prefix) == 1
    assert await storage.stat(grant["key"]) is None
    assert len(owner_segment("x")) == 20
