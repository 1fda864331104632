"""Noticing that the process was asked to stop, before the server's shutdown reaches the app.

A server (granian, uvicorn) that gets SIGTERM stops accepting connections and waits for the
open ones before it runs the app's lifespan shutdown. An SSE stream would hold that wait for
as long as its job runs, and the job workers of ``eco2 serve`` would not drain until then.
So the app watches the signal too: on SIGTERM/SIGINT, :class:`Stopping` tells its listeners
at once (the streams end, and their clients resume elsewhere with ``Last-Event-ID``; the job
workers stop taking jobs and start their grace period). The server's own handling is kept:
the server's loop is woken through its wakeup fd whatever Python-level handler is installed,
and the handler installed before this one is called as well.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopping:
    """The process is stopping: listeners are told once, on the event loop."""

    def __init__(self) -> None:
        self.requested = False
        self._listeners: list[Callable[[], None]] = []

    def on_stop(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
        if self.requested:
            listener()

    def request(self) -> None:
        if self.requested:
            return
        self.requested = True
        log.info("stop_requested")
        for listener in self._listeners:
            listener()


def notice_stop_signals(stopping: Stopping) -> None:
    """Call ``stopping.request()`` on SIGTERM/SIGINT, on this loop, where a server handles
    them already (its handler is kept). Only the main thread can install handlers; elsewhere
    (in-process test servers) the server's shutdown ends the streams and drains the workers."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):  # nobody serves this process: leave its signals alone
            continue

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(stopping.request)
            previous(signum, frame)

        signal.signal(sig, handler)
