"""The counters the alerts read (docs/runbook.md): model-call outcomes and 503s by code."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from eco2.platform.errors import AppError, ServiceUnavailable, exception_handlers
from eco2.platform.model_calls import model_call


class Failed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_model_calls_are_counted_by_outcome() -> None:
    labels = {"provider": "openai", "operation": "metrics_test"}
    async with model_call("openai", "gpt-test", "metrics_test"):
        pass
    with pytest.raises(Failed):
        async with model_call("openai", "gpt-test", "metrics_test"):
            raise Failed("model_timeout")
    with pytest.raises(ValueError, match="odd"):
        async with model_call("openai", "gpt-test", "metrics_test"):
            raise ValueError("odd")
    assert sample("eco2_model_calls_total", **labels, outcome="ok") == 1
    assert sample("eco2_model_calls_total", **labels, outcome="model_timeout") == 1
    assert sample("eco2_model_calls_total", **labels, outcome="ValueError") == 1


def test_a_503_is_counted_by_its_code() -> None:
    handler: Any = exception_handlers()[AppError]
    before = sample("eco2_unavailable_responses_total", code="metrics_test_unavailable")
    response = handler(None, ServiceUnavailable(code="metrics_test_unavailable"))
    assert response.status_code == 503
    handler(None, AppError("not a dependency", code="metrics_test_invalid"))
    after = sample("eco2_unavailable_responses_total", code="metrics_test_unavailable")
    assert after - before == 1
    assert sample("eco2_unavailable_responses_total", code="metrics_test_invalid") == 0
