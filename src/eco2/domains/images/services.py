"""Presign, the local signed PUT, the upload callback, and erasing a user's images."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import msgspec

from eco2.domains.images import metadata
from eco2.domains.images.schemas import (
    PresignRequest,
    PresignResponse,
    UploadedImage,
    UploadSession,
)
from eco2.domains.images.storage import LocalStorage, UploadGrant, storage_for
from eco2.platform import ratelimit
from eco2.platform.errors import AppError, Conflict, InvalidInput, NotFound, Unauthorized
from eco2.platform.runtime import Runtime

CHANNELS = ("scan", "chat", "my")
SESSION_TTL_SECONDS = 24 * 3600
KEY_PATTERN = re.compile(
    r"^(?P<channel>scan|chat|my)/(?P<owner>[0-9a-f]{20})/[A-Za-z0-9_-]{16,64}"
    r"\.(?:png|jpg|webp|heic|heif)$"
)
ALLOWED_LABEL = "PNG, JPEG, WebP, HEIC"


class TooLarge(AppError):
    status_code = 413
    code = "image_too_large"


class Gone(AppError):
    status_code = 410
    code = "upload_expired"
    message = "업로드 주소의 유효 시간이 지났습니다. 다시 시도해 주세요."


class UnsupportedType(AppError):
    status_code = 415
    code = "unsupported_content_type"


def owner_segment(user_id: str) -> str:
    """A per-user folder name that does not reveal the user id in public URLs."""
    return hashlib.sha256(f"eco2:images:{user_id}".encode()).hexdigest()[:20]


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput(
            f"알 수 없는 채널입니다: {channel} (scan, chat, my 중 하나)",
            code="invalid_channel",
            field="channel",
        )
    return channel


def normalise_content_type(raw: str) -> str:
    """``image/jpeg; charset=...`` → ``image/jpeg``; unknown or empty types are a 422."""
    value = raw.split(";")[0].strip().lower()
    value = metadata.ALIASES.get(value, value)
    if not value:
        raise InvalidInput(
            f"이미지 형식을 알 수 없습니다. {ALLOWED_LABEL} 파일을 올려 주세요.",
            code="missing_content_type",
            field="content_type",
        )
    if value not in metadata.CONTENT_TYPES:
        raise InvalidInput(
            f"지원하지 않는 이미지 형식입니다({value}). {ALLOWED_LABEL} 파일만 올릴 수 있어요.",
            code="unsupported_content_type",
            field="content_type",
        )
    return value


def new_key(channel: str, user_id: str, content_type: str) -> str:
    extension = metadata.CONTENT_TYPES[content_type]
    return f"{channel}/{owner_segment(user_id)}/{secrets.token_urlsafe(16)}.{extension}"


def _session_key(key: str) -> str:
    return f"eco2:images:upload:{key}"


def _max_mb(runtime: Runtime) -> str:
    return f"{runtime.settings.image_max_bytes / 1024 / 1024:g}MB"


# --- local signed PUT -----------------------------------------------------------------------


def _local(runtime: Runtime) -> LocalStorage:
    storage = storage_for(runtime.settings)
    if not isinstance(storage, LocalStorage):
        raise NotFound("이 서버는 직접 업로드를 받지 않습니다.", code="local_uploads_disabled")
    return storage


def _check_grant(storage: LocalStorage, token: str, content_type: str) -> UploadGrant:
    grant = UploadGrant.verify(token, storage.secret)
    if grant is None:
        raise Unauthorized("업로드 주소가 올바르지 않습니다.", code="invalid_upload_signature")
    if grant.expires < time.time():
        raise Gone()
    sent = content_type.split(";")[0].strip().lower()
    if metadata.ALIASES.get(sent, sent) != grant.content_type:
        raise UnsupportedType(
            f"Content-Type이 발급받은 형식({grant.content_type})과 다릅니다.",
        )
    return grant


def _nonce_key(grant: UploadGrant) -> str:
    return f"eco2:images:nonce:{grant.nonce}"


async def _claim(runtime: Runtime, grant: UploadGrant) -> None:
    """A signature works once: the first complete PUT claims its nonce until the URL expires.

    Claimed only once the whole body is in hand: an interrupted upload leaves the URL usable
    for the client's retry."""
    ttl = max(int(grant.expires - time.time()) + 60, 60)
    claimed = await runtime.redis.set(_nonce_key(grant), "1", nx=True, ex=ttl)
    if not claimed:
        raise Conflict(
            "이미 사용한 업로드 주소입니다. 다시 발급받아 주세요.", code="upload_url_used"
        )


async def _receive(chunks: AsyncIterator[bytes], limit: int, too_large: TooLarge) -> bytes:
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > limit:
            raise too_large
    return bytes(received)


async def _write_atomically(path: Path, data: bytes) -> None:
    await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        await anyio.Path(partial).write_bytes(data)
        await anyio.Path(partial).rename(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await anyio.Path(partial).unlink()


# --- callback -------------------------------------------------------------------------------


async def _own_session(runtime: Runtime, user_id: str, channel: str, key: str) -> UploadSession:
    match = KEY_PATTERN.match(key)
    if match is None or match["channel"] != channel:
        raise InvalidInput("업로드 키 형식이 올바르지 않습니다.", code="invalid_key", field="key")
    raw = await runtime.redis.get(_session_key(key))
    session = msgspec.json.decode(raw, type=UploadSession) if raw else None
    if session is None or match["owner"] != owner_segment(user_id) or session.user_id != user_id:
        raise NotFound("업로드 세션이 없거나 만료되었습니다.", code="upload_not_found")
    return session


class ImageService:
    """Upload URLs, the local signed PUT and its files, the optional callback, erasure."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def presign(self, user_id: str, channel: str, request: PresignRequest) -> PresignResponse:
        """An upload URL; each costs a Redis key for a day: limited per user (only accepted
        presigns count)."""
        settings, redis = self._runtime.settings, self._runtime.redis
        limit, window = (
            settings.image_presign_rate_limit,
            settings.image_presign_rate_window_seconds,
        )
        async with ratelimit.per_user(redis, "presign", user_id, limit, window, "업로드 요청이"):
            return await self._presign(user_id, channel, request)

    async def _presign(
        self, user_id: str, channel: str, request: PresignRequest
    ) -> PresignResponse:
        content_type = normalise_content_type(request.content_type)
        key = new_key(check_channel(channel), user_id, content_type)
        storage = storage_for(self._runtime.settings)
        expires_in = self._runtime.settings.image_upload_ttl_seconds
        upload_url = await storage.upload_url(key, content_type, expires_in)
        session = UploadSession(user_id, channel, content_type, int(time.time()) + expires_in)
        await self._runtime.redis.set(
            _session_key(key), msgspec.json.encode(session), ex=SESSION_TTL_SECONDS
        )
        return PresignResponse(
            key=key,
            upload_url=upload_url,
            cdn_url=storage.public_url(key),
            expires_in=expires_in,
            required_headers={"Content-Type": content_type},
        )

    async def receive_upload(
        self,
        token: str,
        content_type: str,
        content_length: int | None,
        chunks: AsyncIterator[bytes],
    ) -> None:
        """Checks the signature, type and size while streaming; stores without GPS metadata."""
        storage = _local(self._runtime)
        grant = _check_grant(storage, token, content_type)
        limit = self._runtime.settings.image_max_bytes
        too_large = TooLarge(f"이미지는 {_max_mb(self._runtime)}까지 올릴 수 있어요.")
        if content_length is not None and content_length > limit:
            raise too_large
        data = await _receive(chunks, limit, too_large)
        if not metadata.matches(grant.content_type, data[: metadata.SNIFF_BYTES]):
            raise InvalidInput(
                f"파일 내용이 {grant.content_type} 형식이 아닙니다.", code="image_type_mismatch"
            )
        await _claim(self._runtime, grant)
        try:
            await _write_atomically(
                storage.path(grant.key), metadata.scrub_location(data, grant.content_type)
            )
        except BaseException:
            await self._runtime.redis.delete(_nonce_key(grant))  # not stored: URL stays usable
            raise

    def local_file(self, key: str) -> tuple[Path, str]:
        """(path, content type) of a stored file; anything else is a 404."""
        match = KEY_PATTERN.match(key)
        storage = _local(self._runtime)
        if match is None or not storage.path(key).is_file():
            raise NotFound("이미지를 찾을 수 없습니다.", code="image_not_found")
        return storage.path(key), metadata.EXTENSION_TYPES[key.rsplit(".", 1)[1]]

    async def confirm(self, user_id: str, channel: str, key: str) -> UploadedImage:
        """Verify an upload really happened: exists, within the size limit, the declared type."""
        session = await _own_session(self._runtime, user_id, check_channel(channel), key)
        storage = storage_for(self._runtime.settings)
        stored = await storage.stat(key)
        if stored is None:
            if session.expires_at < time.time():
                raise Gone()
            raise NotFound("아직 업로드된 파일이 없습니다.", code="upload_missing")
        if stored.size > self._runtime.settings.image_max_bytes:
            await storage.delete(key)
            raise TooLarge(f"이미지는 {_max_mb(self._runtime)}까지 올릴 수 있어요.")
        if not metadata.matches(session.content_type, stored.head):
            await storage.delete(key)
            raise InvalidInput(
                f"파일 내용이 {session.content_type} 형식이 아닙니다.", code="image_type_mismatch"
            )
        return UploadedImage(
            key=key,
            cdn_url=storage.public_url(key),
            content_type=session.content_type,
            size=stored.size,
        )

    async def forget_user(self, user_id: str) -> None:
        storage = storage_for(self._runtime.settings)
        for channel in CHANNELS:
            await storage.delete_prefix(f"{channel}/{owner_segment(user_id)}/")
