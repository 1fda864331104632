"""Bounded retries with exponential backoff and jitter for model calls.

Each provider supplies ``classify``: exception → :class:`Failure` (its stable code, whether a
retry may help, and the server's ``Retry-After`` if any), or ``None`` for a bug that should
propagate. After the last attempt the failure becomes a :class:`ProviderError`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from eco2.domains.scan.providers.base import ProviderError

T = TypeVar("T")
log = structlog.get_logger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    retryable: bool
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter on 0.5 s, 1 s, 2 s…; a server's ``Retry-After`` is honoured up to the cap."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


def status_failure(status: int, retry_after: float | None = None) -> Failure:
    if status == 429:
        return Failure("model_rate_limited", True, retry_after)
    if status in (401, 403):
        return Failure("provider_not_configured", False)
    if status in RETRYABLE_STATUS:
        return Failure("model_unavailable", True, retry_after)
    return Failure("model_rejected", False)


def parse_retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def with_retries(
    call: Callable[[], Awaitable[T]],
    classify: Callable[[Exception], Failure | None],
    policy: RetryPolicy,
    provider: str,
) -> T:
    for attempt in range(policy.attempts):
        try:
            return await call()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            last = attempt == policy.attempts - 1
            log.warning(
                "model_call_failed", provider=provider, code=failure.code, attempt=attempt + 1
            )
            if last or not failure.retryable:
                raise ProviderError(failure.code, f"{provider}: {exc}") from exc
            await asyncio.sleep(policy.delay(attempt, failure.retry_after))
    raise AssertionError("unreachable")  # pragma: no cover
