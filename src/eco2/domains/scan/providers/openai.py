"""``openai``: vision and answers through the Responses API with strict structured output.

Works against any OpenAI-compatible server (``OPENAI_BASE_URL``). The SDK's own retries are
off; :mod:`retry` bounds them instead, so a scan never waits longer than its policy allows.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import msgspec
import openai
from openai import AsyncOpenAI

from eco2.domains.scan.providers import prompts
from eco2.domains.scan.providers.base import (
    Answer,
    Grounding,
    Observation,
    ProviderError,
    ScanInput,
)
from eco2.domains.scan.providers.retry import (
    Failure,
    RetryPolicy,
    parse_retry_after,
    status_failure,
    with_retries,
)
from eco2.domains.scan.providers.schemas import (
    AnswerOutput,
    VisionOutput,
    answer_schema,
    observation_from,
    vision_schema,
)
from eco2.knowledge import KnowledgeBase
from eco2.platform.model_calls import model_call


def classify_error(exc: Exception) -> Failure | None:
    if isinstance(exc, openai.APITimeoutError):
        return Failure("model_timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("model_unavailable", True)
    if isinstance(exc, openai.APIStatusError):
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        return status_failure(exc.status_code, retry_after)
    return None


class _Content(msgspec.Struct):
    type: str
    text: str = ""


class _Output(msgspec.Struct):
    type: str
    content: list[_Content] = []


class _Response(msgspec.Struct):
    """The part of a Responses API object we read: the output text."""

    output: list[_Output] = []

    @property
    def output_text(self) -> str:
        return "".join(
            c.text
            for item in self.output
            if item.type == "message"
            for c in item.content
            if c.type == "output_text"
        )


class StructuredCall:
    """One kind of Responses API call whose output text must follow a JSON schema.

    The model, instructions and schema are the same on every call, so they are encoded once;
    a call encodes only its ``input``. The bytes go through the SDK's plain ``post`` (auth,
    errors, timeouts) and the reply is read with msgspec: the typed ``responses.create`` walks
    every enum of the schema through its parameter transform and builds a pydantic model of
    the reply, and the SDK's own JSON encoder re-serialises the large schema each time —
    milliseconds of CPU per scan under load.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        policy: RetryPolicy,
        *,
        name: str,
        schema: dict[str, Any],
        model: str,
        instructions: str,
    ) -> None:
        self._client, self._policy = client, policy
        self._name, self._model = name, model
        text_format = {"type": "json_schema", "name": name, "schema": schema, "strict": True}
        self._fixed = {
            "model": model,
            "instructions": instructions,
            "text": msgspec.Raw(msgspec.json.encode({"format": text_format})),
            "store": False,
        }

    async def __call__(self, model_input: str | list[dict[str, Any]]) -> bytes:
        """Send ``model_input``; return the output text (JSON following the schema)."""
        content = msgspec.json.encode({**self._fixed, "input": model_input})

        async def call() -> httpx2.Response:
            return await self._client.post("/responses", cast_to=httpx2.Response, content=content)

        async with model_call("openai", self._model, self._name):
            raw = await with_retries(call, classify_error, self._policy, "openai")
            try:
                text = msgspec.json.decode(raw.content, type=_Response).output_text
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise ProviderError("model_bad_output", str(exc)) from exc
            if not text:
                raise ProviderError("model_bad_output", "empty output")
        return text.encode()


def sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "image/jpeg"


def decode(raw: bytes, into: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=into)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProviderError("model_bad_output", str(exc)) from exc


class OpenAIVision:
    """``inline_prefix``: photos under it (this app's own local storage, which a hosted model
    cannot reach) are sent inline as a data URL; every other photo is sent by URL."""

    name = "openai"

    def __init__(
        self,
        client: AsyncOpenAI,
        kb: KnowledgeBase,
        model: str,
        policy: RetryPolicy,
        inline_prefix: str | None = None,
    ) -> None:
        self._kb = kb
        self._classify = StructuredCall(
            client,
            policy,
            name="waste_classification",
            schema=vision_schema(kb),
            model=model,
            instructions=prompts.vision_instructions(kb),
        )
        self._inline_prefix = inline_prefix

    async def _image(self, scan: ScanInput) -> str:
        if not self._inline_prefix or not scan.image_url.startswith(self._inline_prefix):
            return scan.image_url
        data = await scan.image_bytes()
        return f"data:{sniff_mime(data)};base64,{base64.b64encode(data).decode()}"

    async def observe(self, scan: ScanInput) -> Observation:
        content: list[dict[str, Any]] = [
            {"type": "input_text", "text": prompts.vision_request(scan.user_input)},
            {"type": "input_image", "image_url": await self._image(scan), "detail": "auto"},
        ]
        raw = await self._classify([{"role": "user", "content": content}])
        return await observation_from(self._kb, decode(raw, VisionOutput), self.name)


class OpenAIAnswers:
    name = "openai"

    def __init__(self, client: AsyncOpenAI, model: str, policy: RetryPolicy) -> None:
        self._answer = StructuredCall(
            client,
            policy,
            name="disposal_answer",
            schema=answer_schema(),
            model=model,
            instructions=prompts.ANSWER_INSTRUCTIONS,
        )

    async def answer(self, observation: Observation, grounding: Grounding) -> Answer:
        context = prompts.answer_context(observation, grounding)
        raw = await self._answer(msgspec.json.encode(context).decode())
        output: AnswerOutput = decode(raw, AnswerOutput)
        return output.to_answer(self.name)
