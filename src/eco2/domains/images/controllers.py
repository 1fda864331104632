"""``/api/v1/images``: presign (contract §3.8), the local signed PUT (§3.9), public files, and
the optional upload callback."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.response import File

from eco2.domains.images.deps import Images
from eco2.domains.images.schemas import (
    CallbackRequest,
    PresignRequest,
    PresignResponse,
    UploadedImage,
)
from eco2.domains.images.storage import FILES_PATH, UPLOAD_PATH
from eco2.platform.di import AuthRequest
from eco2.registry import API

IMAGES = f"{API}/images"
# Keys are random and never rewritten, so a stored file can be cached for good.
FILE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@post(
    "/{channel:str}",
    summary="Presigned upload URL (bare object)",
    status_code=200,
)
async def presign(
    request: AuthRequest,
    images: Images,
    channel: FromPath[str],
    data: JSONBody[PresignRequest],
) -> PresignResponse:
    return await images.presign(request.user.user_id, channel, data)


@post(
    "/{channel:str}/callback",
    summary="Confirm an upload: exists, size, real image type",
    status_code=200,
)
async def callback(
    request: AuthRequest,
    images: Images,
    channel: FromPath[str],
    data: JSONBody[CallbackRequest],
) -> UploadedImage:
    return await images.confirm(request.user.user_id, channel, data.key)


@put(
    f"{UPLOAD_PATH.removeprefix(IMAGES)}/{{token:str}}",
    summary="Local storage: the signed, single-use upload URL (no cookies needed)",
    status_code=200,
    request_max_body_size=None,  # the service enforces ECO2_IMAGE_MAX_BYTES while streaming
)
async def upload(request: Request[Any, Any, Any], images: Images, token: FromPath[str]) -> None:
    length = request.headers.get("content-length")
    await images.receive_upload(
        token,
        request.headers.get("content-type", ""),
        int(length) if length and length.isdigit() else None,
        request.stream(),
    )


@get(f"{FILES_PATH.removeprefix(IMAGES)}/{{key:path}}", summary="Local storage: a stored image")
async def stored_file(images: Images, key: FromPath[str]) -> File:
    path, content_type = images.local_file(key.lstrip("/"))
    return File(
        path=path,
        media_type=content_type,
        content_disposition_type="inline",
        headers=FILE_HEADERS,
    )


public = Router(
    IMAGES,
    route_handlers=[presign, callback, upload, stored_file],
    tags=["images"],
)

route_handlers = [public]
