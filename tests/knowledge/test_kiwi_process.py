"""Kiwi in a process of its own (issue 15): its seconds-long, GIL-holding load never stalls
the server's threads, it analyses exactly as Kiwi in-process does, a dead analyzer is replaced
on the next call, and it does not outlive its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from kiwipiepy import Kiwi
from litestar import Litestar, get
from litestar.testing import TestClient

from eco2.kiwi_process import KiwiProcess, KiwiUnavailable
from eco2.platform.errors import exception_handlers

TEXTS = ["김치냉장고 버리려는데요", "택베상자 어떻게 버려요?", "AI 데이터센터 폐플라스틱"]


@pytest.fixture(scope="module")
def kiwi() -> Iterator[KiwiProcess]:
    process = KiwiProcess()
    yield process
    process.close()


def test_loading_holds_no_gil_of_the_parent() -> None:
    gaps: list[float] = []
    loading = KiwiProcess()

    def tick() -> None:
        last = time.monotonic()
        while len(gaps) < 100_000:
            time.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            if done.is_set():
                return

    done = threading.Event()
    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        began = time.monotonic()
        loading.wait_ready()  # in-process, Kiwi() and its first analysis hold the GIL ~2.5 s
        loaded = time.monotonic() - began
    finally:
        done.set()
        ticker.join()
        loading.close()
    assert loaded > 0.5, loaded  # it did load something heavy meanwhile
    assert max(gaps) < 0.5, (max(gaps), loaded)


def test_tokens_are_kiwis_own(kiwi: KiwiProcess) -> None:
    local = Kiwi()
    expected = [[(t.form, t.tag, t.start, t.len) for t in local.tokenize(text)] for text in TEXTS]
    assert kiwi.tokenize(TEXTS) == expected
    assert kiwi.tokenize(TEXTS[:1]) == expected[:1]
    assert kiwi.tokenize([]) == []


async def test_concurrent_requests_each_get_their_own_tokens(kiwi: KiwiProcess) -> None:
    """Requests from an event loop and from threads, sent together while the analyzer is busy:
    each gets its own texts' tokens, and input Kiwi refuses fails only its own request."""
    expected = kiwi.tokenize(TEXTS)
    refused: list[str] = [None]  # type: ignore[list-item]
    asked = [TEXTS[n % 3 :] for n in range(30)]
    from_threads = [asyncio.to_thread(kiwi.tokenize, TEXTS[:1]) for _ in range(5)]
    answers = await asyncio.gather(
        *(kiwi.tokenize_async(texts) for texts in asked),
        kiwi.tokenize_async(refused),
        *from_threads,
        return_exceptions=True,
    )
    assert answers[: len(asked)] == [expected[n % 3 :] for n in range(30)]
    assert isinstance(answers[len(asked)], ValueError)
    assert answers[len(asked) + 1 :] == [expected[:1]] * 5


async def test_a_restarting_analyzer_does_not_stall_the_event_loop(kiwi: KiwiProcess) -> None:
    dead = kiwi.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    began = time.monotonic()
    try:
        assert await kiwi.tokenize_async(TEXTS[:1]) == kiwi.tokenize(TEXTS[:1])
    finally:
        ticker.cancel()
    assert time.monotonic() - began > 0.5  # a fresh child loaded meanwhile
    assert max(gaps) < 0.5, max(gaps)


def test_a_killed_analyzer_is_replaced_on_the_next_call(kiwi: KiwiProcess) -> None:
    before = kiwi.tokenize(TEXTS[:1])
    dead = kiwi.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    assert kiwi.tokenize(TEXTS[:1]) == before
    assert kiwi.pid not in (None, dead)


def test_the_analyzer_dies_with_its_parent() -> None:
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal; from eco2.kiwi_process import KiwiProcess\n"
            "k = KiwiProcess(); k.start(); print(k.pid, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    child = int(parent.stdout.split()[0])
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        # a zombie until init reaps it counts as gone
        state = _state(child)
        if state in ("Z", None):
            return
        time.sleep(0.1)
    pytest.fail(f"the analyzer {child} outlived its parent")


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_an_analyzer_that_is_down_is_a_503_with_a_code() -> None:
    @get("/analyse", sync_to_thread=False)
    def analyse() -> None:
        raise KiwiUnavailable("no answer in 10 s")

    app = Litestar([analyse], exception_handlers=exception_handlers())
    with TestClient(app) as client:
        response = client.get("/analyse")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert response.headers["retry-after"]
