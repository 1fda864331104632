"""Kiwi, the Korean morphological analyzer, in a process of its own.

Loading Kiwi's model and its first analysis hold the GIL for seconds (about 0.9 s + 1.7 s on
a quiet core). In a server process that stalls the event loop, and done before the loop it
made every start that much longer. In a child process it loads on another core while the
server starts, and a thread waiting for an analysis does not hold the GIL.

A top-level module of its own: the child imports only this and kiwipiepy. It ends when its
parent does (it reads end-of-file on the pipe, or gets the parent-death signal).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Any

# One token: (form, tag, start, length), as Kiwi's Token has them.
Token = tuple[str, str, int, int]

START_TIMEOUT_SECONDS = 120.0  # a busy host loads the model slowly
CALL_TIMEOUT_SECONDS = 10.0
WARM_TEXT = "페트병 버리는 법"  # Kiwi's first analysis costs as much as its load
_PR_SET_PDEATHSIG = 1


class KiwiUnavailable(ConnectionError):
    """The analyzer process did not answer in time or died (it is restarted on the next call).
    A ConnectionError: the edge answers it like any dependency that is down (503 with a code)."""


class KiwiProcess:
    """A client of one Kiwi child: started once, restarted if it dies; calls are serialised
    (Kiwi analyses one request at a time anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._ready = False

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
        """Each text's tokens; one retry on a fresh child if the current one died."""
        with self._lock:
            for attempt in range(2):
                self._spawn()
                try:
                    self._await_ready(START_TIMEOUT_SECONDS)
                    assert self._conn is not None
                    self._conn.send(list(texts))
                    status, result = self._receive(CALL_TIMEOUT_SECONDS)
                except (EOFError, OSError, KiwiUnavailable) as exc:
                    self._stop()
                    if attempt:
                        raise KiwiUnavailable(f"the Kiwi analyzer process failed: {exc}") from exc
                    continue
                if status != "ok":
                    raise ValueError(result)  # Kiwi refused this input; the child is fine
                tokens: list[list[Token]] = result
                return tokens
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._stop()

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
    """The child: load Kiwi, say so, then analyse batches of texts until the parent goes."""
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
            texts: list[str] = conn.recv()
        except (EOFError, OSError):
            return
        try:
            # one text alone: the batch call's set-up costs more than it saves
            analysed = [kiwi.tokenize(texts[0])] if len(texts) == 1 else kiwi.tokenize(texts)
            tokens = [[(t.form, t.tag, t.start, t.len) for t in each] for each in analysed]
        except Exception as exc:  # reported to the caller; the child lives on
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("ok", tokens))
