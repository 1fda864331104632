"""A tiny HTTP/1.1 server for probes and scraping: ``/health``, ``/ready``, ``/metrics``.

Three GET routes do not justify a web framework in a process whose job is latency.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eco2.authz.metrics import REGISTRY

NotReady = Callable[[], Awaitable[list[str]]]
MAX_HEAD_BYTES = 8192
READ_TIMEOUT_SECONDS = 5.0
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def start_http(host: str, port: int, not_ready: NotReady) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            method, path = _request_line(head)
            status, content_type, body = await _route(method, path, not_ready)
            writer.write(_response(status, content_type, body, include_body=method != "HEAD"))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a broken probe connection needs no answer
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD_BYTES)


def _request_line(head: bytes) -> tuple[str, str]:
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        return "", ""
    return parts[0], parts[1].split("?", 1)[0]


async def _route(method: str, path: str, not_ready: NotReady) -> tuple[int, str, bytes]:
    if method not in ("GET", "HEAD"):
        return _json(405, {"error": {"code": "method_not_allowed", "message": method}})
    if path == "/health":
        return _json(200, {"status": "ok"})
    if path == "/ready":
        failed = await not_ready()
        if failed:
            error = {"code": "dependency_unavailable", "message": ", ".join(failed)}
            return _json(503, {"status": "unavailable", "error": {**error, "failed": failed}})
        return _json(200, {"status": "ready"})
    if path == "/metrics":
        return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
    return _json(404, {"error": {"code": "not_found", "message": path}})


def _json(status: int, body: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body, ensure_ascii=False).encode()


def _response(status: int, content_type: str, body: bytes, *, include_body: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
        f"content-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + (body if include_body else b"")
