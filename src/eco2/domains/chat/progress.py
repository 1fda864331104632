"""How an answer's progress reaches the client: SSE job events, or nothing (legacy call)."""

from __future__ import annotations

from typing import Any

import structlog

from eco2.platform import jobs

log = structlog.get_logger(__name__)

ERROR_MESSAGES = {
    "timeout": "답변 시간이 너무 오래 걸렸어요. 다시 시도해 주세요.",
    "temporary": "일시적인 문제로 답변하지 못했어요. 잠시 후 다시 시도해 주세요.",
    "other": "답변을 만들지 못했어요. 다른 질문으로 다시 시도해 주세요.",
}


class ModelError(Exception):
    """The language model could not answer; ``kind`` is the SSE error class."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Collect:
    """The legacy endpoint waits for the whole answer: progress goes nowhere."""

    async def stage(self, name: str, status: str, progress: int | None = None) -> None:
        return None

    async def token(self, content: str) -> None:
        return None


class JobProgress:
    """Stages, tokens and the outcome as job events (contract §7)."""

    def __init__(self, events: jobs.EventLog) -> None:
        self._events = events

    async def stage(self, name: str, status: str, progress: int | None = None) -> None:
        payload: dict[str, Any] = {"stage": name, "status": status}
        if progress is not None:
            payload["progress"] = progress
        await self._events.emit(name, payload)

    async def token(self, content: str) -> None:
        await self._events.emit(
            "token", lambda seq: {"content": content, "seq": seq, "node": "answer"}
        )

    async def done(self, result: dict[str, Any]) -> None:
        await self._events.emit(
            "done",
            {
                "stage": "done",
                "status": "completed",
                "progress": 100,
                "result": result,
                "message": "답변이 완료되었어요.",
            },
        )

    async def fail(self, exc: BaseException) -> None:
        kind = "other"
        if isinstance(exc, TimeoutError):
            kind = "timeout"
        elif isinstance(exc, ModelError):
            kind = exc.kind
        else:
            log.error("chat_job_crashed", error=repr(exc))
        await self._events.emit("error", {"error": kind, "message": ERROR_MESSAGES[kind]})
