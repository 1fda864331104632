"""One scan: vision → rule → answer, timed per step, reported as events.

The pipeline holds no database connection: the model calls happen with nothing borrowed. It
decides whether the scan deserves its reward; the caller stores the outcome first and grants
the reward after (``ScanService``), so that a reward never exists without its stored scan.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog
from prometheus_client import Histogram

from eco2.domains.character.schemas import Reward
from eco2.domains.scan.providers.base import (
    Answer,
    AnswerProvider,
    Grounding,
    Observation,
    ProviderError,
    ScanInput,
    VisionProvider,
    grounding_for,
)
from eco2.domains.scan.schemas import Stage, StageStatus
from eco2.knowledge import KnowledgeBase

log = structlog.get_logger(__name__)
T = TypeVar("T")

STEP_SECONDS = Histogram(
    "eco2_scan_step_duration_seconds",
    "Duration of one scan pipeline step",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 20, 30, 60),
)
PROGRESS = {"vision": 25, "rule": 50, "answer": 75, "reward": 90}


class Emitter(Protocol):
    async def append(
        self,
        stage: Stage,
        status: StageStatus,
        *,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None: ...


class Silent:
    """The synchronous endpoint has nobody listening for progress."""

    async def append(self, *_: Any, **__: Any) -> None:
        return None


@dataclass
class Outcome:
    observation: Observation | None = None
    grounding: Grounding | None = None
    answer: Answer | None = None
    reward_due: bool = False
    reward: Reward | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Pipeline:
    kb: KnowledgeBase
    vision: VisionProvider
    answers: AnswerProvider
    timeout: float

    async def run(self, scan: ScanInput, emit: Emitter) -> Outcome:
        outcome = Outcome()
        try:
            async with asyncio.timeout(self.timeout):
                await self._steps(scan, emit, outcome)
        except ProviderError as exc:
            outcome.error_code = exc.code
        except TimeoutError:
            outcome.error_code = "scan_timeout"
        return outcome

    async def _steps(self, scan: ScanInput, emit: Emitter, out: Outcome) -> None:
        out.observation = obs = await self._step("vision", emit, out, self.vision.observe(scan))
        if not obs.classified:
            return
        out.grounding = await self._step("rule", emit, out, _now(grounding_for, self.kb, obs))
        out.answer = await self._step("answer", emit, out, self.answers.answer(obs, out.grounding))
        out.reward_due = deserves_reward(obs, out.answer, self.kb)

    async def _step(self, name: Stage, emit: Emitter, out: Outcome, work: Awaitable[T]) -> T:
        await emit.append(name, "started")
        started = time.perf_counter()
        try:
            result = await work
        except BaseException:
            await emit.append(name, "failed")
            raise
        finally:
            elapsed = time.perf_counter() - started
            out.timings[name] = round(elapsed, 4)
            STEP_SECONDS.labels(step=name).observe(elapsed)
        await emit.append(name, "completed", progress=PROGRESS[name])
        return result

    async def reward(self, emit: Emitter, out: Outcome, grant: Awaitable[Reward | None]) -> None:
        """The reward step, after the scan is stored (``grant`` is idempotent per scan)."""
        out.reward = await self._step("reward", emit, out, grant)


def deserves_reward(observation: Observation, answer: Answer, kb: KnowledgeBase) -> bool:
    """Only a recyclable sorted right: no insufficiency left to fix."""
    category = kb.category(observation.major, observation.middle)
    return category.recyclable and not answer.insufficiencies


async def _now(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)
