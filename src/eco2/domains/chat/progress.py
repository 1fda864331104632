"""How an answer's progress reaches the client: SSE job events, or nothing (legacy call).

The events follow contract §7: a progress event per stage, ``token`` events, ``done``
(``status: completed`` with the stored answer, or ``status: failed`` with a message for a job
that will not go on), ``error`` with a retriable code only while the job really goes on
(another attempt follows), and ``token_recovery``:

* a subscriber without ``Last-Event-ID`` gets one ``token_recovery`` with the text so far
  instead of every token (:func:`collapse_tokens`);
* an attempt that streams after an earlier attempt's tokens first sends a ``token_recovery``
  with no text, so the client drops the words of the attempt that died before its own.

Events are written in batches: what an attempt emits before it next waits (the offline
assistant's whole answer, tokens that arrive while a write is under way) goes to the log, and
to the streams, in one write. Consecutive tokens of a batch are one ``token`` event carrying
their words together: a model streaming slowly still shows word by word, and an answer
composed at once costs one event, not one per word. A progress stage waits for company: it is
written with the next token or the end of the job, or on its own once ``STAGE_SECONDS`` have
passed (a stage that takes a while still shows as it starts; a quick one costs no write of
its own). The end of a job (``done``, a retry's ``error``) is written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import structlog

from eco2.platform.job_events import EventWriter, JobEvent, NewEvent, StaleAttempt

log = structlog.get_logger(__name__)

TERMINAL = ("done",)
RETRIABLE = ("timeout", "temporary", "connection_reset")
TOKENS_NOTE = "tokens"  # the record field naming the attempt that streamed tokens last
ERROR_MESSAGES = {
    "timeout": "답변 시간이 너무 오래 걸렸어요. 다시 시도해 주세요.",
    "temporary": "일시적인 문제로 답변하지 못했어요. 잠시 후 다시 시도해 주세요.",
    "other": "답변을 만들지 못했어요. 다른 질문으로 다시 시도해 주세요.",
    "chat_not_found": "대화가 삭제되어 답변을 저장하지 못했어요.",
}
RETRYING_MESSAGE = "답변을 다시 만들고 있어요. 잠시만 기다려 주세요."
DONE_MESSAGE = "답변이 완료되었어요."
STAGE_SECONDS = 0.5  # the longest a stage event waits to share a write with what follows


class ModelError(Exception):
    """The language model could not answer; ``kind`` is the SSE error class."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def failure_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ModelError):
        return exc.kind
    return "other"


class Collect:
    """The legacy endpoint waits for the whole answer: progress goes nowhere."""

    async def stage(self, name: str, status: str, progress: int | None = None) -> None:
        return None

    async def token(self, content: str) -> None:
        return None


def recovery(accumulated: str, last_seq: int) -> dict[str, Any]:
    return {
        "stage": "token_recovery",
        "status": "snapshot",
        "accumulated": accumulated,
        "last_seq": last_seq,
        "completed": False,  # the client closes the stream on true: `done` carries the end
    }


def failed(kind: str) -> dict[str, Any]:
    return {"stage": "done", "status": "failed", "message": ERROR_MESSAGES.get(kind, kind)}


class JobProgress:
    """One attempt's stages, tokens and outcome as job events, written in batches."""

    def __init__(self, events: EventWriter, stage_seconds: float = STAGE_SECONDS) -> None:
        self._events = events
        self._stage_seconds = stage_seconds
        earlier = events.state.get(TOKENS_NOTE)
        self._reset_tokens = earlier is not None and earlier != str(events.attempt)
        self._pending: list[NewEvent] = []
        self._writing = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._due = asyncio.Event()  # something pending must not wait: a token, the end
        self._stale: StaleAttempt | None = None  # found by a write in the background
        self._open_text: list[str] | None = None  # words of the pending token event

    async def stage(self, name: str, status: str, progress: int | None = None) -> None:
        payload: dict[str, Any] = {"stage": name, "status": status}
        if progress is not None:
            payload["progress"] = progress
        self._add(NewEvent(name, payload, key=f"{name}:{status}"), due=False)

    async def token(self, content: str) -> None:
        if self._reset_tokens:  # an earlier attempt streamed words: drop them first
            self._reset_tokens = False
            self._add(NewEvent("token_recovery", lambda seq: recovery("", seq)), due=True)
        if self._open_text is not None:  # the last event not yet written is a token: extend it
            self._open_text.append(content)
            return
        text = [content]
        self._add(
            NewEvent(
                "token",
                lambda seq: {"content": "".join(text), "seq": seq, "node": "answer"},
                note=TOKENS_NOTE,
            ),
            due=True,
        )
        self._open_text = text

    async def done(self, result: dict[str, Any]) -> None:
        payload = {
            "stage": "done",
            "status": "completed",
            "progress": 100,
            "result": result,
            "message": DONE_MESSAGE,
        }
        self._add(NewEvent("done", payload), due=True)
        await self.flush()

    async def retrying(self, kind: str) -> None:
        """The attempt failed for a passing reason and another one follows."""
        payload = {"error": kind, "message": RETRYING_MESSAGE}
        self._add(NewEvent("error", payload, key=f"error:{self._events.attempt}"), due=True)
        await self.flush()

    async def fail(self, kind: str) -> None:
        """The job ends without an answer."""
        self._add(NewEvent("done", failed(kind)), due=True)
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending now (raises :class:`StaleAttempt` when fenced off)."""
        async with self._writing:
            batch, self._pending, self._open_text = self._pending, [], None
            self._due.clear()
            if batch:
                await self._events.emit_many(batch)

    def _add(self, event: NewEvent, *, due: bool) -> None:
        if self._stale is not None:
            raise self._stale
        self._pending.append(event)
        self._open_text = None
        if due:
            self._due.set()
        if self._timer is None:
            self._timer = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        """At the next turn of the event loop once something due is pending, else after
        ``STAGE_SECONDS``. Also after the attempt has ended some other way (cancelled, a store
        away): what it emitted is written as it would have been unbatched (a newer attempt
        fences it off)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._stage_seconds):
                await self._due.wait()
        self._timer = None
        try:
            await self.flush()
        except StaleAttempt as exc:
            self._stale = exc


_Token = msgspec.json.Decoder(dict[str, Any]).decode


def collapse_tokens(events: list[JobEvent]) -> list[JobEvent]:
    """The backlog for a subscriber without ``Last-Event-ID``: the tokens (of the current
    attempt) folded into one ``token_recovery`` where the last one was."""
    last = max(
        (i for i, e in enumerate(events) if e.name in ("token", "token_recovery")), default=-1
    )
    if last < 0:
        return events
    text: list[str] = []
    kept: list[JobEvent] = []
    for event in events[: last + 1]:
        if event.name == "token":
            text.append(str(_Token(event.data).get("content", "")))
        elif event.name == "token_recovery":
            text = [str(_Token(event.data).get("accumulated", ""))]
        else:
            kept.append(event)
    seq = events[last].seq
    folded = JobEvent(
        seq, "token_recovery", msgspec.Raw(msgspec.json.encode(recovery("".join(text), seq)))
    )
    return [*kept, folded, *events[last + 1 :]]
