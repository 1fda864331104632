"""Kiwi, the Korean morphological analyzer, in a process of its own.

Loading Kiwi's model and its first analysis hold the GIL for seconds (about 0.9 s + 1.7 s on
a quiet core). In a server process that stalls the event loop, and done before the loop it
made every start that much longer. In a child process it loads on another core while the
server starts, and a thread waiting for an analysis does not hold the GIL.

A top-level module of its own: the child imports only this and kiwipiepy. It ends when its
parent does (it reads end-of-file on the pipe, or gets the parent-death signal).
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Any

# One token: (form, tag, start, length), as Kiwi's Token has them.
Token = tuple[str, str, int, int]

START_TIMEOUT_SECONDS = 120.0  # a busy host loads the model slowly
CALL_TIMEOUT_SECONDS = 10.0
WARM_TEXT = "페트병 버리는 법"  # Kiwi's first analysis costs as much as its load
BATCH_FROM = 16  # texts in one request from which Kiwi's batch call pays
_PR_SET_PDEATHSIG = 1


class KiwiUnavailable(ConnectionError):
    """The analyzer process did not answer in time or died (it is restarted on the next call).
    A ConnectionError: the edge answers it like any dependency that is down (503 with a code)."""


class KiwiProcess:
    """A client of one Kiwi child: started once, restarted if it dies.

    One thread of the client's own talks to the child (Kiwi analyses one request at a time
    anyway); requests that arrive while it waits for an answer, from any thread or event loop,
    go over the pipe together next (a burst of questions costs a few round trips, not one each).
    An event loop awaits its answer (:meth:`tokenize_async`) instead of blocking on the pipe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the child and its pipe
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._queue = threading.Condition()  # guards what follows
        self._pending: list[tuple[list[str], Future[list[list[Token]]]]] = []
        self._sender: threading.Thread | None = None
        self._stopping: threading.Event | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start loading in the background (returns at once)."""
        with self._lock:
            self._spawn()

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        with self._lock:
            self._spawn()
            self._await_ready(timeout)

    def tokenize(self, texts: Sequence[str]) -> list[list[Token]]:
        """Each text's tokens (blocks: not on an event loop); one retry on a fresh child if the
        current one died."""
        return self._submit(texts).result()

    async def tokenize_async(self, texts: Sequence[str]) -> list[list[Token]]:
        """:meth:`tokenize` for an event loop, which runs on while the child analyses."""
        return await asyncio.wrap_future(self._submit(texts))

    def close(self) -> None:
        with self._queue:
            sender, stopping = self._sender, self._stopping
            self._sender = self._stopping = None
            if stopping is not None:
                stopping.set()
                self._queue.notify_all()
        if sender is not None:
            sender.join()  # after the requests it holds are answered
        with self._lock:
            self._stop()

    def _submit(self, texts: Sequence[str]) -> Future[list[list[Token]]]:
        future: Future[list[list[Token]]] = Future()
        if not texts:
            future.set_result([])
            return future
        with self._queue:
            self._pending.append((list(texts), future))
            if self._sender is None:
                self._stopping = threading.Event()
                self._sender = threading.Thread(
                    target=self._send_pending, args=(self._stopping,), name="kiwi", daemon=True
                )
                self._sender.start()
            self._queue.notify()
        return future

    def _send_pending(self, stopping: threading.Event) -> None:
        """The sender thread: everything pending in one exchange, until closed."""
        while True:
            with self._queue:
                while not self._pending and not stopping.is_set():
                    self._queue.wait()
                batch, self._pending = self._pending, []
            if not batch:
                return
            live = [(texts, f) for texts, f in batch if f.set_running_or_notify_cancel()]
            try:
                answers = self._exchange([texts for texts, _ in live])
            except Exception as exc:  # every waiter hears of it; the thread lives on
                for _, future in live:
                    future.set_exception(exc)
                continue
            for (_, future), (status, result) in zip(live, answers, strict=True):
                if status == "ok":
                    future.set_result(result)
                else:
                    future.set_exception(ValueError(result))  # Kiwi refused this input

    def _exchange(self, requests: list[list[str]]) -> list[tuple[str, Any]]:
        """Each request's (status, tokens or error); one retry on a fresh child."""
        with self._lock:
            for attempt in range(2):
                self._spawn()
                try:
                    self._await_ready(START_TIMEOUT_SECONDS)
                    assert self._conn is not None
                    self._conn.send(requests)
                    answers: list[tuple[str, Any]] = self._receive(CALL_TIMEOUT_SECONDS)
                except (EOFError, OSError, KiwiUnavailable) as exc:
                    self._stop()
                    if attempt:
                        raise KiwiUnavailable(f"the Kiwi analyzer process failed: {exc}") from exc
                    continue
                return answers
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        ours, theirs = socket.socketpair()
        with theirs:
            # A fresh interpreter (no fork of a threaded server) that imports only this module.
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-c",
                    f"import {__name__} as k; k.main({theirs.fileno()}, {os.getpid()})",
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        self._conn, self._ready = Connection(ours.detach()), False

    def _await_ready(self, timeout: float) -> None:
        if not self._ready:
            self._receive(timeout)  # the child's "loaded"
            self._ready = True

    def _receive(self, timeout: float) -> Any:
        assert self._conn is not None
        if not self._conn.poll(timeout):
            raise KiwiUnavailable(f"no answer in {timeout:g} s")
        return self._conn.recv()

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait(5)  # reaped: no zombie
        self._process, self._conn, self._ready = None, None, False


@lru_cache(maxsize=1)
def shared() -> KiwiProcess | None:
    """The process's one analyzer, loading from the first call on; None without kiwipiepy."""
    if importlib.util.find_spec("kiwipiepy") is None:
        return None
    kiwi = KiwiProcess()
    kiwi.start()
    return kiwi


def main(fd: int, parent: int) -> None:
    """The child: load Kiwi, say so, then answer batches of requests (each a list of texts)
    until the parent goes."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the death signal was asked for
        return
    conn = Connection(fd)
    from kiwipiepy import Kiwi

    kiwi = Kiwi()
    kiwi.tokenize(WARM_TEXT)
    conn.send(("ok", None))
    while True:
        try:
            requests: list[list[str]] = conn.recv()
        except (EOFError, OSError):
            return
        conn.send([_analyse(kiwi, texts) for texts in requests])


def _analyse(kiwi: Any, texts: list[str]) -> tuple[str, Any]:
    """("ok", each text's tokens), or ("error", why) when Kiwi refuses the input."""
    try:
        # a few texts one by one: the batch call's set-up costs more than it saves
        analysed = kiwi.tokenize(texts) if len(texts) >= BATCH_FROM else map(kiwi.tokenize, texts)
        return ("ok", [[(t.form, t.tag, t.start, t.len) for t in each] for each in analysed])
    except Exception as exc:  # reported to the caller; the child lives on
        return ("error", f"{type(exc).__name__}: {exc}")
