"""Service-to-service calls between split pods.

Internal routes live under ``/internal/<domain>/`` (never routed by the gateway) and require
the shared ``ECO2_INTERNAL_TOKEN`` in ``x-internal-token``.

What the browser sees when a call fails: a remote answer about the request itself (not found,
invalid, conflict, rate limited) keeps its status, code and message, exactly as if the domain
ran in this process. Anything else (a refused internal token, a route the two pods disagree
on, a crash, an unreadable body, no answer) is the other domain being unavailable: 503 with
``<domain>_unavailable`` / ``_unreachable``, logged here, never the remote's 401 or 500.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import msgspec
import structlog
from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ControllerRouterHandler

from eco2.platform.errors import AppError, ServiceUnavailable, Unauthorized

INTERNAL_PREFIX = "/internal/"
INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 (a header name)
# Remote answers about the request itself, which the caller's client can act on.
PASSED_THROUGH = frozenset({400, 404, 409, 422, 429})
T = TypeVar("T")

log = structlog.get_logger(__name__)


class _ErrorDetail(msgspec.Struct):
    code: str
    message: str
    field: str | None = None


class _ErrorBody(msgspec.Struct):
    """The one error shape every domain answers with (``platform/errors.py``)."""

    error: _ErrorDetail


def require_internal_token(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    expected: str = connection.app.state.settings.internal_token or ""
    given = connection.headers.get(INTERNAL_TOKEN_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(code="invalid_service_credential")


def internal_router(domain: str, route_handlers: Sequence[ControllerRouterHandler]) -> Router:
    """A domain's routes for other domains: under ``/internal/<domain>``, behind the internal
    token, left out of the OpenAPI document."""
    return Router(
        f"{INTERNAL_PREFIX}{domain}",
        route_handlers=route_handlers,
        guards=[require_internal_token],
        include_in_schema=False,
    )


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
            raise self._failure(path, response)
        try:
            return msgspec.json.decode(response.content, type=into)
        except msgspec.DecodeError as exc:  # also a body of the wrong shape (ValidationError)
            log.error("internal_call_unreadable", domain=self._domain, path=path)
            raise ServiceUnavailable(code=f"{self._domain}_unavailable") from exc

    def _failure(self, path: str, response: httpx.Response) -> AppError:
        status = response.status_code
        if status in PASSED_THROUGH:
            try:
                error = msgspec.json.decode(response.content, type=_ErrorBody).error
            except msgspec.DecodeError:
                pass
            else:
                retry_after = response.headers.get("retry-after")
                return AppError(
                    error.message,
                    code=error.code,
                    status_code=status,
                    field=error.field,
                    headers={"retry-after": retry_after} if retry_after else None,
                )
        log.error("internal_call_failed", domain=self._domain, path=path, status=status)
        return ServiceUnavailable(code=f"{self._domain}_unavailable")
