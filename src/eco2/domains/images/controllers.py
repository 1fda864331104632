"""``/api/v1/images``: presign (contract §3.8), the local signed PUT (§3.9), public files, and
the optional upload callback."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.response import File

from eco2.domains.images import services
from eco2.domains.images.schemas import (
    CallbackRequest,
    PresignRequest,
    PresignResponse,
    UploadedImage,
)
from eco2.domains.images.storage import FILES_PATH, UPLOAD_PATH
from eco2.platform import ratelimit
from eco2.platform.di import AuthRequest, RuntimeDep
from eco2.registry import API

# Keys are random and never rewritten, so a stored file can be cached for good.
FILE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@post(
    f"{API}/images/{{channel:str}}",
    tags=["images"],
    summary="Presigned upload URL (bare object)",
    status_code=200,
)
async def presign(
    request: AuthRequest,
    runtime: RuntimeDep,
    channel: FromPath[str],
    data: JSONBody[PresignRequest],
) -> PresignResponse:
    settings = runtime.settings
    rule = ratelimit.Limit(
        settings.image_presign_rate_limit,
        settings.image_presign_rate_window_seconds,
        "presign_rate_limited",
        "이미지 업로드 요청이",
    )
    async with ratelimit.limited(runtime.redis, f"presign:{request.user.user_id}", rule):
        return await services.presign(runtime, request.user.user_id, channel, data)


@post(
    f"{API}/images/{{channel:str}}/callback",
    tags=["images"],
    summary="Confirm an upload: exists, size, real image type",
    status_code=200,
)
async def callback(
    request: AuthRequest,
    runtime: RuntimeDep,
    channel: FromPath[str],
    data: JSONBody[CallbackRequest],
) -> UploadedImage:
    return await services.confirm(runtime, request.user.user_id, channel, data.key)


@put(
    f"{UPLOAD_PATH}/{{token:str}}",
    tags=["images"],
    summary="Local storage: the signed, single-use upload URL (no cookies needed)",
    status_code=200,
    request_max_body_size=None,  # the service enforces ECO2_IMAGE_MAX_BYTES while streaming
)
async def upload(
    request: Request[Any, Any, Any], runtime: RuntimeDep, token: FromPath[str]
) -> None:
    length = request.headers.get("content-length")
    await services.receive_upload(
        runtime,
        token,
        request.headers.get("content-type", ""),
        int(length) if length and length.isdigit() else None,
        request.stream(),
    )


@get(f"{FILES_PATH}/{{key:path}}", tags=["images"], summary="Local storage: a stored image")
async def stored_file(runtime: RuntimeDep, key: FromPath[str]) -> File:
    path, content_type = services.local_file(runtime, key.lstrip("/"))
    return File(
        path=path,
        media_type=content_type,
        content_disposition_type="inline",
        headers=FILE_HEADERS,
    )


route_handlers = [presign, callback, upload, stored_file]
