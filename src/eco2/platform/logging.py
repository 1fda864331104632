"""structlog configuration and the ``x-request-id`` middleware."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import sys

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_TICKET = re.compile(r"(ticket=)[^&\s\"'#]+")


def redact(text: str) -> str:
    """A stream ticket is a credential: never in a log line, whoever logged a URL with it."""
    return _TICKET.sub(r"\1[redacted]", text) if "ticket=" in text else text


def redact_tickets(
    _: object, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


class RedactTickets(logging.Filter):
    """The same for the standard library's loggers (HTTP clients and servers log URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "ticket=" in message:
            record.msg, record.args = redact(message), None
        return True


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """JSON lines in clusters (machine-read), colourful console output locally."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            redact_tickets,
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


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Accept a well-formed client ``x-request-id`` or mint one; bind it to logs; echo it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == _REQUEST_ID_HEADER), ""
        )
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else _request_ids.next()
        echoed = (_REQUEST_ID_HEADER, request_id.encode())
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    return middleware
