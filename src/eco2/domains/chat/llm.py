"""``ECO2_CHAT_PROVIDER=openai``: chat completions with tool calling and token streaming.

The model decides which tool to call (knowledge lookup, photo scan, nearby places,
characters); the tools run here against our own data, so answers stay grounded in the
knowledge base. Tokens are escaped as they stream (``user_answer`` is rendered as HTML).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import openai
import structlog
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from eco2.domains.chat import replies
from eco2.domains.chat.assistant import (
    STAGE_OF,
    Assistant,
    ModelRouter,
    OfflineAssistant,
    Progress,
    Reply,
    Turn,
)
from eco2.domains.chat.context import History
from eco2.domains.chat.progress import ModelError
from eco2.domains.chat.prompts import TOOL_INTENT, TOOLS, system_prompt
from eco2.domains.chat.render import clean, fix_bold
from eco2.domains.chat.schemas import Intent
from eco2.domains.chat.toolcalls import ToolState, run_tool
from eco2.domains.chat.tools import Toolbox
from eco2.platform.model_calls import model_call
from eco2.platform.openai_client import client_from_settings, make_client
from eco2.settings import Settings

MAX_ROUNDS = 3
log = structlog.get_logger(__name__)


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Round:
    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)


def model_error(exc: Exception) -> ModelError:
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("timeout", str(exc))
    if isinstance(exc, openai.APIConnectionError | openai.RateLimitError):
        return ModelError("temporary", str(exc))
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return ModelError("temporary", str(exc))
    return ModelError("other", str(exc))


class OpenAIAssistant:
    """One model behind an OpenAI-compatible chat completions endpoint (OpenAI, Gemini's
    OpenAI endpoint, a local server); ``name`` is its model id, stored with its answers."""

    def __init__(
        self, client: AsyncOpenAI, model: str, tools: Toolbox, offline: OfflineAssistant
    ) -> None:
        self.tools, self._offline, self._client = tools, offline, client
        self.name = self._model = model

    async def close(self) -> None:
        await self._client.close()

    def _messages(self, turn: Turn, history: History) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(history)}]
        messages += [{"role": role, "content": content} for role, content in history.recent]
        content: Any = turn.text
        if turn.image_url:
            content = [
                {"type": "text", "text": turn.text},
                {"type": "image_url", "image_url": {"url": turn.image_url}},
            ]
        messages.append({"role": "user", "content": content})
        return messages

    async def reply(self, turn: Turn, history: History, progress: Progress) -> Reply:
        messages, state = self._messages(turn, history), ToolState()
        answer: list[str] = []
        await progress.stage("intent", "started")
        for _ in range(MAX_ROUNDS):
            step = await self._stream(messages, turn, progress, answer)
            if not step.calls:
                break
            await self._run_tools(step, messages, turn, history, progress, state)
        if state.intent is None:
            state.intent = await self._no_tool_intent(turn, history)
            await progress.stage("intent", "completed", 20)
        text = fix_bold("".join(answer).strip()) or replies.OFF_TOPIC
        return Reply(text, state.intent, state.category, state.topic, self.name)

    async def _no_tool_intent(self, turn: Turn, history: History) -> Intent:
        """The model answered without a tool: small talk, a general recycling question or
        off-topic (the rules tell which)."""
        intent = await self._offline.intent(turn, history)
        return intent if intent in ("greeting", "general", "off_topic") else "general"

    async def _stream(
        self, messages: list[dict[str, Any]], turn: Turn, progress: Progress, answer: list[str]
    ) -> _Round:
        step = _Round()
        async with model_call("openai", self._model, "chat"):  # the API spoken
            try:
                stream = await self._client.chat.completions.create(
                    model=self._model,
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    tools=cast("list[ChatCompletionToolParam]", TOOLS),
                    temperature=turn.temperature,
                    stream=True,
                )
                async for chunk in stream:
                    await self._absorb(chunk, step, progress, answer)
            except openai.OpenAIError as exc:
                raise model_error(exc) from exc
        return step

    async def _absorb(
        self, chunk: ChatCompletionChunk, step: _Round, progress: Progress, answer: list[str]
    ) -> None:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                token = clean(delta.content)
                step.text.append(delta.content)
                answer.append(token)
                await progress.token(token)
            for call in delta.tool_calls or []:
                slot = step.calls.setdefault(call.index, _Call())
                slot.id = call.id or slot.id
                if call.function:
                    slot.name += call.function.name or ""
                    slot.arguments += call.function.arguments or ""

    async def _run_tools(
        self,
        step: _Round,
        messages: list[dict[str, Any]],
        turn: Turn,
        history: History,
        progress: Progress,
        state: ToolState,
    ) -> None:
        calls = list(step.calls.values())
        messages.append(
            {
                "role": "assistant",
                "content": "".join(step.text) or None,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            intent = TOOL_INTENT.get(call.name, "off_topic")
            if state.intent is None:
                state.intent = intent
                await progress.stage("intent", "completed", 20)
            stage = STAGE_OF[intent]
            await progress.stage(stage, "started")
            result = await self._tool(call, turn, history, state)
            await progress.stage(stage, "completed", 60)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": json.dumps(result, ensure_ascii=False),
                }
            )

    async def _tool(
        self, call: _Call, turn: Turn, history: History, state: ToolState
    ) -> dict[str, Any]:
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            return {"error": "arguments are not JSON"}
        return await run_tool(self.tools, call.name, args, turn, history, state)


def build_assistant(settings: Settings, tools: Toolbox) -> Assistant:
    """The assistant a message is answered by: the model it picked when ``ECO2_CHAT_MODELS``
    configures it, else the default (``ECO2_CHAT_PROVIDER``: offline, or the OpenAI model)."""
    offline = OfflineAssistant(tools)
    default: Assistant = offline
    if settings.chat_provider == "openai":
        # One retry: the SDK retries only a call that failed before its stream began.
        client = client_from_settings(settings, max_retries=1)
        default = OpenAIAssistant(client, settings.openai_chat_model, tools, offline)
    named: dict[str, Assistant] = {}
    for name, chosen in settings.chat_models.items():
        key = chosen.api_key(settings)
        if not key:
            log.warning("chat_model_without_key", model=name, key_env=chosen.api_key_env)
            continue
        client = make_client(
            api_key=key,
            base_url=chosen.base_url or settings.openai_base_url,
            timeout=settings.model_timeout_seconds,
            max_connections=settings.model_max_connections,
            max_retries=1,
        )
        named[name] = OpenAIAssistant(client, chosen.model, tools, offline)
    return ModelRouter(default, named) if named else default
