"""structlog configuration and the ``x-request-id`` middleware."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import sys
from contextvars import ContextVar

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, WrappedLogger

from eco2.platform import tracing
from eco2.platform.security import redact_tickets

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The request being served, for log lines: one variable set per request (structlog's
# ``bind_contextvars`` would look up and set one variable per key, and build a token dict).
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def drop_tickets(
    _: object, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_tickets(value)
    return event_dict


class RedactTickets(logging.Filter):
    """The same for the standard library's loggers (HTTP clients and servers log URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "ticket=" in message:
            record.msg, record.args = redact_tickets(message), None
        return True


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """JSON lines in clusters (machine-read), colourful console output locally; with tracing
    on (``setup_tracing`` first), each line written inside a span names its trace and span."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    joined: list[structlog.types.Processor] = [add_trace_ids] if tracing.enabled() else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_request_id,
            *joined,
            drop_tickets,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactTickets) for f in handler.filters):
            handler.addFilter(RedactTickets())


class _RequestIds:
    """Unique request ids, 32 hex digits like a UUID's: a random prefix per process and a
    counter (a random UUID per request costs a system call and an object)."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # server workers fork

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


def add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    request_id = _request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """``trace_id`` and ``span_id`` of the current span: a log line leads to its trace."""
    ids = tracing.current_ids()
    if ids is not None:
        event["trace_id"], event["span_id"] = ids
    return event


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Accept a well-formed client ``x-request-id`` or mint one; bind it to logs and record it
    on the request's span (when tracing); echo it."""
    traced = tracing.enabled()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or _request_ids.next()
        echoed = (_REQUEST_ID_HEADER, request_id.encode())
        bound = _request_id.set(request_id)
        if traced:
            tracing.record_request_id(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            _request_id.reset(bound)

    return middleware


def _incoming_request_id(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == _REQUEST_ID_HEADER:
            incoming = value.decode("latin-1")
            return incoming if _VALID_REQUEST_ID.match(incoming) else None
    return None
