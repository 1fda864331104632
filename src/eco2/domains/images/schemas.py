from __future__ import annotations

from typing import Annotated

import msgspec


class PresignRequest(msgspec.Struct):
    """``POST /images/{channel}`` (contract §3.8); unknown fields are ignored."""

    filename: Annotated[str, msgspec.Meta(max_length=255)] = ""
    content_type: Annotated[str, msgspec.Meta(max_length=100)] = ""


class PresignResponse(msgspec.Struct):
    key: str
    upload_url: str
    cdn_url: str
    expires_in: int
    required_headers: dict[str, str]


class CallbackRequest(msgspec.Struct):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class UploadedImage(msgspec.Struct):
    key: str
    cdn_url: str
    content_type: str
    size: int


class UploadSession(msgspec.Struct):
    """Kept in Redis from presign until the callback can no longer be expected."""

    user_id: str
    channel: str
    content_type: str
    expires_at: int
