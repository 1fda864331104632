"""One call to a model provider, observed: a span (when tracing) and an outcome count.

Scan's vision and answer calls and chat's completions go through :func:`model_call`; the
``eco2_model_calls_total`` counter feeds the model-call error rate alert (docs/runbook.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Counter

from eco2.platform import tracing
from eco2.platform.errors import failure_code

MODEL_CALLS = Counter(
    "eco2_model_calls",
    "Calls to model providers by provider, operation and outcome (ok, or the error's class).",
    ["provider", "operation", "outcome"],
)


@asynccontextmanager
async def model_call(provider: str, model: str, operation: str) -> AsyncIterator[None]:
    """Around one logical call (its retries included); an exception is its failed outcome
    (recorded on the span, which ends with an error status)."""
    try:
        if tracing.enabled():
            with tracing.span(
                f"{operation} {model}",
                "client",
                attributes={
                    "gen_ai.provider.name": provider,
                    "gen_ai.operation.name": operation,
                    "gen_ai.request.model": model,
                },
            ):
                yield
        else:
            yield
    except Exception as exc:
        MODEL_CALLS.labels(provider, operation, failure_code(exc)).inc()
        raise
    MODEL_CALLS.labels(provider, operation, "ok").inc()
