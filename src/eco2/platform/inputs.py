"""The edge input policy: one place every request passes before a handler sees it.

- Text: NUL (PostgreSQL refuses it) and anything that is not valid UTF-8 (unpaired surrogates
  included) in a path parameter, a query parameter or a JSON string is a 422 ``invalid_text``
  that names the field.
- JSON bodies: at most ``ECO2_JSON_MAX_BYTES`` (413) and ``ECO2_JSON_MAX_DEPTH`` levels of
  nesting (400 ``json_too_deep``; msgspec would recurse until ``RecursionError``); a body that
  does not decode is a 400 ``invalid_json``.
- Slow clients: a request body must arrive at ``ECO2_BODY_MIN_RATE_BYTES`` per second on
  average once ``ECO2_BODY_GRACE_SECONDS`` have passed, else 408 ``body_timeout``: a trickled
  body cannot hold a connection and a handler for long.

Only handlers that take a ``data`` body have it buffered and checked here (JSON is the only
body format of the API); streamed bodies (the image upload) only get the rate deadline.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import numpy as np
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from eco2.platform.errors import AppError, InvalidInput, answer_error
from eco2.settings import Settings

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InvalidJson(AppError):
    status_code = 400
    code = "invalid_json"
    message = "JSON 본문을 해석할 수 없습니다."


class BodyTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    message = "요청 본문이 너무 큽니다."


class BodyTimeout(AppError):
    status_code = 408
    code = "body_timeout"
    message = "요청 본문이 너무 느리게 도착했습니다. 다시 시도해 주세요."


def invalid_text(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field}에 허용되지 않는 문자(NUL 또는 잘못된 유니코드)가 있습니다.",
        code="invalid_text",
        field=field,
    )


@dataclass(frozen=True, slots=True)
class InputPolicy:
    max_json_bytes: int
    max_json_depth: int
    min_body_rate: float  # bytes per second, on average, after the grace period
    grace_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> InputPolicy:
        return cls(
            max_json_bytes=settings.json_max_bytes,
            max_json_depth=settings.json_max_depth,
            min_body_rate=settings.body_min_rate_bytes,
            grace_seconds=settings.body_grace_seconds,
        )


# --- text -------------------------------------------------------------------------------------


def bad_text(value: str) -> bool:
    """NUL, or a code point UTF-8 cannot carry (an unpaired surrogate)."""
    if "\x00" in value:
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return True
    return False


def check_query(query_string: bytes) -> None:
    if not query_string:
        return
    text = query_string.decode("latin-1")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        pairs = parse_qsl(text, keep_blank_values=True, errors="surrogateescape")
    for key, value in pairs:
        if bad_text(key):
            raise invalid_text("query")
        if bad_text(value):
            raise invalid_text(key)


def check_path(path: str, params: dict[str, Any]) -> None:
    for name, value in params.items():
        if isinstance(value, str) and bad_text(value):
            raise invalid_text(name)
    if bad_text(path):
        raise invalid_text("path")


# --- JSON ------------------------------------------------------------------------------------


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays/objects, ignoring brackets inside strings."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    raw = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((raw == ord("[")) | (raw == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, text) for every string and key in decoded JSON; iterative (no recursion)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                yield child_path, key
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{n}]", child) for n, child in enumerate(item))


def check_json(body: bytes, policy: InputPolicy) -> None:
    if len(body) > policy.max_json_bytes:
        raise BodyTooLarge()
    # Cheap first: a body with few brackets cannot be deep.
    if body.count(b"[") + body.count(b"{") > policy.max_json_depth and (
        json_depth(body) > policy.max_json_depth
    ):
        raise InvalidJson(
            f"JSON 중첩이 너무 깊습니다(최대 {policy.max_json_depth}단계).", code="json_too_deep"
        )
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidJson() from exc
    for field, text in _strings(decoded, ""):
        if bad_text(text):
            raise invalid_text(field or "body")


# --- the body as it arrives ---------------------------------------------------------------------


def paced(receive: Receive, policy: InputPolicy) -> Receive:
    """``receive`` with a deadline: the body must keep up ``policy.min_body_rate`` on average
    once the grace period has passed (a client trickling bytes is cut off with a 408)."""
    started = time.monotonic()
    received = 0
    complete = False  # after the body, receive() only waits for a disconnect (SSE): no deadline

    async def receive_paced() -> ReceiveMessage:
        nonlocal received, complete
        if complete:
            return await receive()
        deadline = started + policy.grace_seconds + received / policy.min_body_rate
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout() from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
        else:
            complete = True
        return message

    return receive_paced


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already read body over once, then defers to the real one."""
    pending = True

    async def receive_again() -> ReceiveMessage:
        nonlocal pending
        if pending:
            pending = False
            whole: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return whole
        return await receive()

    return receive_again


def _takes_body(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    return signature is not None and "data" in signature.parameters


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def checked(scope: HTTPScope, receive: Receive, policy: InputPolicy) -> Receive:
    """The request's text checked, and its body when the handler takes one: ``receive`` for
    the handler, paced (or replaying the checked body)."""
    check_path(scope["path"], scope.get("path_params") or {})
    check_query(scope.get("query_string", b""))
    receive = paced(receive, policy)
    if scope["method"] in _BODY_METHODS and _takes_body(scope):
        declared = _declared_length(scope)
        if declared is not None and declared > policy.max_json_bytes:
            raise BodyTooLarge()
        body = await read_body(receive, policy.max_json_bytes)
        if body:
            check_json(body, policy)
        receive = replay(body, receive)
    return receive


def input_policy_middleware(app: ASGIApp, policy: InputPolicy) -> ASGIApp:
    """The policy as ASGI middleware (``DefineMiddleware(input_policy_middleware, policy)``)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        try:
            receive = await checked(scope, receive, policy)
        except AppError as exc:
            await answer_error(exc, scope, receive, send)
            return
        await app(scope, receive, send)

    return middleware
