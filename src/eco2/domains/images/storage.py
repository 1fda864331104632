"""Where image bytes live: S3 (presigned PUT) or the data dir (this app's signed PUT).

Both give the client the same flow (contract §3.8–3.9): PUT the bytes to ``upload_url`` with
only a ``Content-Type`` header, then read ``cdn_url`` publicly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eco2.registry import API
from eco2.settings import Settings

UPLOAD_PATH = f"{API}/images/uploads"
FILES_PATH = f"{API}/images/files"
MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    size: int
    content_type: str | None
    head: bytes


class ImageStorage(Protocol):
    async def upload_url(self, key: str, content_type: str, expires_in: int) -> str: ...

    def public_url(self, key: str) -> str: ...

    async def stat(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...


# --- local ----------------------------------------------------------------------------------


def local_secret(settings: Settings) -> bytes:
    """The HMAC key for local upload URLs, created once per installation in the data dir."""
    path = settings.data_dir / "secrets" / "image-upload-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """What a local upload URL allows: one PUT of ``key`` as ``content_type`` before ``expires``."""

    key: str
    content_type: str
    expires: int
    nonce: str

    def sign(self, secret: bytes) -> str:
        payload = _b64(json.dumps([self.key, self.content_type, self.expires, self.nonce]).encode())
        mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    @classmethod
    def verify(cls, token: str, secret: bytes) -> UploadGrant | None:
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None  # never signed here (and compare_digest takes only ASCII text)
        payload, _, mac = token.partition(".")
        expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            key, content_type, expires, nonce = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        return cls(str(key), str(content_type), int(expires), str(nonce))


class LocalStorage:
    def __init__(self, settings: Settings) -> None:
        self.root = (settings.data_dir / "images").resolve()
        self.secret = local_secret(settings)
        self._upload_base = f"{settings.public_base_url}{UPLOAD_PATH}"
        self._files_base = (
            settings.image_public_base_url or f"{settings.public_base_url}{FILES_PATH}"
        )

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(key)
        return path

    async def upload_url(self, key: str, content_type: str, expires_in: int) -> str:
        grant = UploadGrant(key, content_type, int(time.time()) + expires_in, secrets.token_hex(8))
        return f"{self._upload_base}/{grant.sign(self.secret)}"

    def public_url(self, key: str) -> str:
        return f"{self._files_base}/{key}"

    async def stat(self, key: str) -> StoredObject | None:
        path = self.path(key)
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            head = handle.read(64)
        return StoredObject(size=path.stat().st_size, content_type=None, head=head)

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        folder = self.path(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count


# --- S3 -------------------------------------------------------------------------------------


class S3Storage:
    """aioboto3; credentials and region from the standard ``AWS_*`` environment."""

    def __init__(self, settings: Settings) -> None:
        import aioboto3

        if not settings.image_s3_bucket:
            raise RuntimeError("ECO2_IMAGE_S3_BUCKET is required when ECO2_IMAGE_STORAGE=s3")
        self.bucket = settings.image_s3_bucket
        self.endpoint_url = settings.image_s3_endpoint_url
        self._session = aioboto3.Session()
        self._public_base = settings.image_public_base_url or self._bucket_url()

    def _bucket_url(self) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}"
        region = self._session.region_name or "us-east-1"
        return f"https://{self.bucket}.s3.{region}.amazonaws.com"

    def _client(self) -> Any:
        from aiobotocore.config import AioConfig

        config = AioConfig(signature_version="s3v4")  # SigV4: every region accepts it
        return self._session.client("s3", endpoint_url=self.endpoint_url, config=config)

    async def upload_url(self, key: str, content_type: str, expires_in: int) -> str:
        # Only Content-Type is signed (besides host): the browser sends nothing else (§3.9).
        async with self._client() as s3:
            url: str = await s3.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
                ExpiresIn=expires_in,
            )
        return url

    def public_url(self, key: str) -> str:
        return f"{self._public_base}/{key}"

    async def stat(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        async with self._client() as s3:
            try:
                head = await s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
            size = int(head["ContentLength"])
            first = b""
            if size:
                part = await s3.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-63")
                async with part["Body"] as body:
                    first = await body.read()
        return StoredObject(size=size, content_type=head.get("ContentType"), head=first)

    async def delete(self, key: str) -> None:
        async with self._client() as s3:
            await s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        async with self._client() as s3:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
                    deleted += len(keys)
        return deleted


_STORAGES: dict[tuple[str, str, str | None, str | None, str], ImageStorage] = {}


def storage_for(settings: Settings) -> ImageStorage:
    """One storage per configuration (cheap to keep; S3 clients are opened per call)."""
    cache_key = (
        settings.image_storage,
        str(settings.data_dir),
        settings.image_s3_bucket,
        settings.image_s3_endpoint_url,
        f"{settings.public_base_url}|{settings.image_public_base_url}",
    )
    if cache_key not in _STORAGES:
        backend = S3Storage if settings.image_storage == "s3" else LocalStorage
        _STORAGES[cache_key] = backend(settings)
    return _STORAGES[cache_key]
