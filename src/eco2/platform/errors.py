"""One JSON error shape everywhere: ``{"error": {"code", "message", "field"?}}``.

Messages are Korean because the app may show them; codes are stable English identifiers.
"""

from __future__ import annotations

import re
from typing import Any

import redis.exceptions
import sqlalchemy.exc
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap, Receive, Scope, Send
from prometheus_client import Counter

log = structlog.get_logger(__name__)

UNAVAILABLE = Counter(
    "eco2_unavailable_responses",
    "503 answers by code: a store or another domain down, slow or not configured.",
    ["code"],
)


class AppError(Exception):
    """A failure the client should see, with a stable code."""

    status_code: int = 400
    code: str = "bad_request"
    message: str = "요청을 처리할 수 없습니다."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.field = field
        self.headers = headers or {}
        super().__init__(self.message)


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    message = "로그인이 필요합니다."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "요청한 항목을 찾을 수 없습니다."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "이미 처리된 요청입니다."


class InvalidInput(AppError):
    status_code = 422
    code = "validation_error"
    message = "입력값이 올바르지 않습니다."


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"
    message = "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "일시적으로 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요."


def failure_code(exc: BaseException) -> str:
    """A failure as a metrics label: its stable code (``model_timeout``, a domain's
    ``character_unavailable``) or kind, else its class; a small closed set either way."""
    for name in ("code", "kind"):
        value = getattr(exc, name, None)
        if isinstance(value, str) and value:
            return value
    return type(exc).__name__


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    if exc.status_code == HTTP_503_SERVICE_UNAVAILABLE:
        UNAVAILABLE.labels(exc.code).inc()
    return _json(exc.status_code, error_body(exc.code, exc.message, exc.field), exc.headers)


async def answer_error(exc: AppError, scope: Scope, receive: Receive, send: Send) -> None:
    """A middleware's refusal (an anonymous caller, bad input), answered where it happens: an
    exception raised in a middleware would be answered by Litestar's outermost handler, past
    the middleware outside it (the request id, the metrics)."""
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    await _app_error(request, exc).to_asgi_response(app=None, request=request)(scope, receive, send)


_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    problems = exc.extra if isinstance(exc.extra, list) else []
    first = problems[0] if problems and isinstance(problems[0], dict) else {}
    missing = _MISSING_PARAMETER.search(str(exc.detail))
    field = first.get("key") or (missing.group(1) if missing else None)
    reason = first.get("message") or exc.detail
    message = f"입력값이 올바르지 않습니다: {field}" if field else "입력값이 올바르지 않습니다."
    body = error_body("validation_error", message, field)
    body["error"]["detail"] = reason
    return _json(HTTP_422_UNPROCESSABLE_ENTITY, body)


_HTTP_CODES = {
    400: ("bad_request", "요청 형식이 올바르지 않습니다."),
    401: ("unauthorized", "로그인이 필요합니다."),
    404: ("not_found", "요청한 경로를 찾을 수 없습니다."),
    405: ("method_not_allowed", "허용되지 않은 요청 방식입니다."),
    413: ("payload_too_large", "요청 본문이 너무 큽니다."),
    415: ("unsupported_media_type", "지원하지 않는 콘텐츠 형식입니다."),
    429: ("rate_limited", "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."),
    500: ("internal_error", "서버에서 문제가 발생했습니다. 잠시 후 다시 시도해 주세요."),
    503: ("service_unavailable", "일시적으로 서비스를 이용할 수 없습니다."),
}


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    # A 403 makes the web client log the user out (contract §1.4): never emit one by accident.
    if status == 403:
        status = 401
    code, message = _HTTP_CODES.get(status, ("http_error", "요청을 처리할 수 없습니다."))
    # Any undecodable body (msgspec says "malformed" or "truncated"): the cause tells.
    undecodable = isinstance(exc.__cause__, SerializationException)
    if status == 400 and (undecodable or "JSON" in str(exc.detail or "")):
        code, message = "invalid_json", "JSON 본문을 해석할 수 없습니다."
    return _json(status, error_body(code, message), getattr(exc, "headers", None))


def _not_found(_: Request[Any, Any, Any], __: NotFoundException) -> Response[Any]:
    return _json(HTTP_404_NOT_FOUND, error_body(*_HTTP_CODES[404]))


# A store that is down, stalled past its deadline or out of pooled connections: the request
# fails fast with a 503 and a code, and the next one tries again (the pools reconnect).
DEPENDENCY_ERRORS: dict[type[Exception], str] = {
    sqlalchemy.exc.OperationalError: "database_unavailable",
    sqlalchemy.exc.InterfaceError: "database_unavailable",
    sqlalchemy.exc.TimeoutError: "database_unavailable",  # no pooled connection in time
    redis.exceptions.ConnectionError: "redis_unavailable",
    redis.exceptions.TimeoutError: "redis_unavailable",
    TimeoutError: "dependency_timeout",  # asyncpg's statement and connect deadlines
    ConnectionError: "dependency_unavailable",  # refused or reset connections
}
RETRY_AFTER = {"Retry-After": "2"}


def _dependency_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    code = next(c for kind, c in DEPENDENCY_ERRORS.items() if isinstance(exc, kind))
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and not _connection_level(exc):
        return _unexpected(request, exc)
    log.warning(
        "dependency_unavailable", path=request.url.path, code=code, error=type(exc).__name__
    )
    UNAVAILABLE.labels(code).inc()
    return _json(
        HTTP_503_SERVICE_UNAVAILABLE,
        error_body(code, "일시적으로 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요."),
        RETRY_AFTER,
    )


def _connection_level(exc: sqlalchemy.exc.DBAPIError) -> bool:
    """Operational errors are about the server or the connection (down, restarting, statement
    deadline, cancelled), not about the statement's data: those stay 500s, as bugs."""
    return exc.connection_invalidated or isinstance(
        exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, sqlalchemy.exc.StatementError):
        # The driver's message quotes the offending value (user data): the statement, its
        # error class and where it was raised say enough.
        log.error(
            "unhandled_error",
            path=request.url.path,
            error=type(exc).__name__,
            driver_error=type(exc.orig).__name__,
            statement=exc.statement,
        )
    else:
        log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        error_body("internal_error", "서버에서 문제가 발생했습니다. 잠시 후 다시 시도해 주세요."),
    )


def exception_handlers() -> ExceptionHandlersMap:
    return {
        AppError: _app_error,
        ValidationException: _validation_error,
        NotFoundException: _not_found,
        HTTPException: _http_error,
        HTTP_405_METHOD_NOT_ALLOWED: _http_error,
        **dict.fromkeys(DEPENDENCY_ERRORS, _dependency_down),
        Exception: _unexpected,
    }
