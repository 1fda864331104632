"""Local fake model servers on 127.0.0.1, spoken to through the real SDKs.

``FakeOpenAI`` answers ``POST /v1/responses`` in the Responses API's JSON shape and
``POST /v1/chat/completions`` as a stream of chunks (text or tool calls); ``FakeAzure``
answers ``POST /computervision/imageanalysis:analyze`` in Azure Image Analysis 4.0's shape.
Each serves a script of replies (a status, a delay, a body) and records what it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.response import Stream

from tests.fakes.live import serve


@dataclass
class Reply:
    body: dict[str, Any] | None = None
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[dict[str, Any]] | None = None  # streamed as server-sent events when set
    chunk_delay: float = 0.0


@dataclass
class Script:
    """Replies in order; the last one repeats. A ``responder`` instead picks a reply per request."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Reply] | None = None

    def next(self, request: dict[str, Any]) -> Reply:
        if self.responder is not None:
            return self.responder(request)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    async def answer(self, request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        body = await request.body()
        self.paths.append(str(request.url))
        self.authorizations.append(request.headers.get("authorization", ""))
        self.requests.append(json.loads(body) if body[:1] in (b"{", b"[") else {"bytes": len(body)})
        reply = self.next(self.requests[-1])
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.chunks is not None:
            return Stream(_sse(reply.chunks, reply.chunk_delay), media_type="text/event-stream")
        content = reply.body if reply.body is not None else {"error": {"message": "scripted"}}
        return Response(content, status_code=reply.status, headers=reply.headers)


def response_body(output: dict[str, Any], model: str = "gpt-test") -> dict[str, Any]:
    """A completed Responses API object whose output text is ``output`` as JSON."""
    return {
        "id": "resp_test",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [
            {
                "id": "msg_test",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {
                        "type": "output_text",
                        "text": json.dumps(output, ensure_ascii=False),
                        "annotations": [],
                    }
                ],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 50,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 150,
        },
    }


def vision_output(**overrides: Any) -> dict[str, Any]:
    output = {
        "item_name": "생수 페트병",
        "major_category": "재활용폐기물",
        "middle_category": "무색페트병",
        "minor_category": "먹는샘물 페트병",
        "conditions": [],
        "confidence": 0.93,
    }
    return {**output, **overrides}


def answer_output(**overrides: Any) -> dict[str, Any]:
    output = {
        "disposal_steps": {
            "1": "내용물을 비우고 물로 헹궈요.",
            "2": "라벨을 떼어 비닐류로 배출해요.",
            "3": "찌그러뜨려 뚜껑을 닫아 투명 페트병 전용 수거함에 넣어요.",
            "4": None,
            "5": None,
            "6": None,
        },
        "insufficiencies": [],
        "user_answer": "투명 페트병이에요. 라벨을 떼고 헹궈서 전용 수거함에 넣어 주세요.",
    }
    return {**output, **overrides}


async def _sse(chunks: list[dict[str, Any]], delay: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if delay:
            await asyncio.sleep(delay)
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _chunk(
    delta: dict[str, Any], finish: str | None = None, model: str = "gpt-test"
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_chunks(text: str, size: int = 4) -> list[dict[str, Any]]:
    """A streamed chat completion whose content is ``text``, ``size`` characters a chunk."""
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    first = [_chunk({"role": "assistant", "content": ""})]
    return [*first, *(_chunk({"content": p}) for p in pieces), _chunk({}, "stop")]


def tool_chunks(
    name: str, arguments: dict[str, Any], call_id: str = "call_1"
) -> list[dict[str, Any]]:
    """A streamed chat completion that calls one tool; the arguments arrive in two pieces."""
    raw = json.dumps(arguments, ensure_ascii=False)
    half = len(raw) // 2
    start = {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    return [
        _chunk({"role": "assistant", "content": None, "tool_calls": [start]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[:half]}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[half:]}}]}),
        _chunk({}, "tool_calls"),
    ]


@dataclass
class FakeServer:
    url: str
    script: Script

    def reply(self, *replies: Reply) -> None:
        self.script.replies[:] = list(replies)


@contextlib.contextmanager
def fake_openai(*replies: Reply) -> Iterator[FakeServer]:
    script = Script(list(replies))

    @post("/v1/responses", status_code=200)
    async def responses(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        return await script.answer(request)

    @post("/v1/chat/completions", status_code=200)
    async def completions(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        return await script.answer(request)

    with serve(lambda _: Litestar([responses, completions])) as base_url:
        yield FakeServer(f"{base_url}/v1", script)


def azure_body(
    tags: list[tuple[str, float]],
    *,
    caption: str = "",
    objects: list[str] | None = None,
    lines: list[str] | None = None,
) -> dict[str, Any]:
    """Azure Image Analysis 4.0 ``imageanalysis:analyze`` response."""
    box = {"x": 10, "y": 10, "w": 100, "h": 200}
    polygon = [{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 9, "y": 5}, {"x": 1, "y": 5}]
    body: dict[str, Any] = {
        "modelVersion": "2023-10-01",
        "metadata": {"width": 640, "height": 480},
        "tagsResult": {"values": [{"name": n, "confidence": c} for n, c in tags]},
        "objectsResult": {
            "values": [
                {"boundingBox": box, "tags": [{"name": name, "confidence": 0.8}]}
                for name in objects or []
            ]
        },
        "readResult": {
            "blocks": [
                {
                    "lines": [
                        {
                            "text": text,
                            "boundingPolygon": polygon,
                            "words": [
                                {"text": w, "boundingPolygon": polygon, "confidence": 0.9}
                                for w in text.split()
                            ],
                        }
                        for text in lines or []
                    ]
                }
            ]
        },
    }
    if caption:
        body["captionResult"] = {"text": caption, "confidence": 0.8}
    return body


@contextlib.contextmanager
def fake_azure(*replies: Reply) -> Iterator[FakeServer]:
    script = Script(list(replies))

    @post("/computervision/imageanalysis:analyze", status_code=200)
    async def analyze(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        return await script.answer(request)

    with serve(lambda _: Litestar([analyze])) as base_url:
        yield FakeServer(base_url, script)
