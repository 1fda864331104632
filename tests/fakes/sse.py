"""Server-sent events over a real connection: read a stream as a browser's EventSource would,
with a deadline so that a stream that never ends fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: Any
    id: int | None = None


@dataclass
class Stream:
    """What one SSE request got: its status, its events, and whether the server ended it."""

    status: int
    events: list[Event] = field(default_factory=list)
    keepalives: int = 0
    ended_by_server: bool = False

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.event == name]

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.events if e.id is not None]


def parse_block(block: str) -> Event | None:
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in block.splitlines():
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("event", "id"):
            fields[name] = value
    if not data or not "".join(data):
        return None
    raw = "\n".join(data)
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw
    return Event(
        fields.get("event", "message"), parsed, int(fields["id"]) if "id" in fields else None
    )


def parse_sse(text: str) -> list[dict[str, Any]]:
    """A whole SSE body as dicts (``event``, ``id``, ``data``), for buffered test clients."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event = parse_block(block)
        if event is not None:
            item: dict[str, Any] = {"event": event.event, "data": event.data}
            if event.id is not None:
                item["id"] = str(event.id)
            events.append(item)
    return events


async def read_stream(
    http: httpx.AsyncClient,
    url: str,
    *,
    last_event_id: int | None = None,
    within: float = 15.0,
    stop: Callable[[Event], bool] | None = None,
    on_event: Callable[[Event], Any] | None = None,
) -> Stream:
    """Read ``url`` until the server ends it (or ``stop(event)`` says enough); a stream still
    open after ``within`` seconds fails the test."""
    headers = {"accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = str(last_event_id)
    async with asyncio.timeout(within), http.stream("GET", url, headers=headers) as response:
        result = Stream(response.status_code)
        if response.status_code != 200:
            await response.aread()
            return result
        buffer = ""
        async for chunk in response.aiter_text():
            buffer += chunk.replace("\r\n", "\n")
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                if block.startswith(":") or "event: keepalive" in block:
                    result.keepalives += 1
                    continue
                event = parse_block(block)
                if event is None:
                    continue
                result.events.append(event)
                if on_event is not None:
                    on_event(event)
                if stop is not None and stop(event):
                    return result
        result.ended_by_server = True
        return result


@contextlib.asynccontextmanager
async def reading(
    http: httpx.AsyncClient, url: str, **options: Any
) -> AsyncIterator[asyncio.Task[Stream]]:
    """``read_stream`` in the background (the test does other things meanwhile)."""
    task = asyncio.create_task(read_stream(http, url, **options))
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class Gate:
    """Holds a job's step until the test opens it (works across the app's thread and loop)."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self.waiting = 0
        self.entered = threading.Event()

    async def wait(self) -> None:
        self.waiting += 1
        self.entered.set()
        while not self._open.is_set():  # noqa: ASYNC110 (opened from another thread and loop)
            await asyncio.sleep(0.01)

    def open(self) -> None:
        self._open.set()

    async def until_entered(self, count: int = 1, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while self.waiting < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.waiting} of {count} jobs reached the gate")
            await asyncio.sleep(0.01)
