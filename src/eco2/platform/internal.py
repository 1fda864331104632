"""Service-to-service calls between split pods.

Internal routes live under ``/internal/<domain>/`` (never routed by the gateway) and require
the shared ``ECO2_INTERNAL_TOKEN`` in ``x-internal-token``.
"""

from __future__ import annotations

import hmac
from typing import Any, TypeVar

import httpx
import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from eco2.platform.errors import AppError, ServiceUnavailable, Unauthorized

INTERNAL_PREFIX = "/internal/"
INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 (a header name)
T = TypeVar("T")


def require_internal_token(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    expected: str = connection.app.state.settings.internal_token or ""
    given = connection.headers.get(INTERNAL_TOKEN_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(code="invalid_service_credential")


class InternalClient:
    """JSON over HTTP to another domain's internal routes, decoded into typed structs."""

    def __init__(self, http: httpx.AsyncClient, base_url: str | None, token: str, domain: str):
        self._http = http
        self._base_url = base_url
        self._token = token
        self._domain = domain

    async def call(self, method: str, path: str, *, json: Any = None, into: type[T]) -> T:
        if not self._base_url:
            raise ServiceUnavailable(code=f"{self._domain}_not_configured")
        try:
            response = await self._http.request(
                method,
                f"{self._base_url}{INTERNAL_PREFIX}{self._domain}{path}",
                content=msgspec.json.encode(json) if json is not None else None,
                headers={INTERNAL_TOKEN_HEADER: self._token, "content-type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(code=f"{self._domain}_unreachable") from exc
        if response.status_code >= 400:
            raise AppError(
                code=f"{self._domain}_error",
                status_code=502 if response.status_code >= 500 else response.status_code,
            )
        return msgspec.json.decode(response.content, type=into)
