"""Schemathesis over the app's own OpenAPI document: every operation, signed in, with schema-valid
(positive) and schema-violating (negative) data, NUL bytes included, and the stateful links
schemathesis infers between operations. No response may be a 5xx.

A fixed seed in CI (the same cases every run); ``pytest -m deep`` adds a deeper run. Each run
prints how many cases it generated.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.specs.openapi.stateful import OpenAPIStateMachine

from eco2.settings import Settings
from tests.fakes.live import serve_app

SEED = 20261203
# Operations that end the fuzzer's own session or account (the rest of the run would be 401s);
# each has its own tests.
SPARED = {
    ("POST", "/api/v1/auth/logout"),
    ("DELETE", "/api/v1/user/me"),
    ("DELETE", "/api/v1/users/me"),
}


@dataclass
class Tally:
    cases: int = 0
    stateful: int = 0
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, method: str, url: str, status: int, body: str, *, stateful: bool = False
    ) -> None:
        with self.lock:
            self.cases += 1
            self.stateful += stateful
            if status >= 500:
                self.server_errors.append(f"{method} {url} -> {status}: {body[:300]}")


@pytest.fixture(scope="module")
def fuzz_api(base_settings: Settings) -> Iterator[str]:
    generous = base_settings.model_copy(
        update={
            "image_allowed_hosts": ["cdn.eco2.test"],
            "vision_provider": "text",
            "answer_provider": "template",
            "chat_rate_limit": 100_000,
            "scan_rate_limit": 100_000,
            "image_presign_rate_limit": 100_000,
            "auth_kakao_client_id": "kakao-app",
        }
    )
    with serve_app(generous) as url:
        yield url


def sign_in(api: str) -> dict[str, str]:
    response = httpx.post(f"{api}/api/v1/auth/dev/login", json={"nickname": "퍼저"}, timeout=30)
    assert response.status_code == 200, response.text
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in response.cookies.items())}


def fuzz(api: str, examples: int, seed: int) -> Tally:
    schema = schemathesis.openapi.from_url(f"{api}/docs/openapi.json")
    schema.config.generation.update(allow_x00=True)
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        if (operation.method.upper(), operation.path) in SPARED:
            continue
        headers = sign_in(api)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(operation, mode, headers, tally, examples, seed)
    _run_stateful(schema, sign_in(api), tally, examples, seed)
    return tally


def _settings(examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def _run_operation(
    operation: Any, mode: GenerationMode, headers: dict[str, str], tally: Tally, n: int, seed: int
) -> None:
    @hypothesis.seed(seed)
    @_settings(n)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        response = case.call(headers=headers, timeout=60)
        tally.record(case.method, case.formatted_path, response.status_code, response.text)

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # nothing to negate here
        call()


def _run_stateful(schema: Any, headers: dict[str, str], tally: Tally, n: int, seed: int) -> None:
    machine: type[OpenAPIStateMachine] = schema.as_state_machine()

    class Signed(machine):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, "timeout": 60}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            tally.record(
                case.method, case.formatted_path, response.status_code, response.text, stateful=True
            )

        def step(self, input: Any) -> Any:
            if (input.case.method.upper(), input.case.operation.path) in SPARED:
                return None
            return super().step(input)

    hypothesis.seed(seed)(Signed.TestCase)
    Signed.run(settings=_settings(max(n // 4, 2), stateful_step_count=6))


def report(capsys: pytest.CaptureFixture[str], name: str, tally: Tally) -> None:
    with capsys.disabled():
        print(
            f"\n{name}: {tally.cases} generated cases ({tally.stateful} in stateful sequences),"
            f" {len(tally.server_errors)} 5xx"
        )


def test_no_operation_answers_5xx(fuzz_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    tally = fuzz(fuzz_api, examples=10, seed=SEED)
    report(capsys, "fuzz", tally)
    assert tally.cases > 500
    assert not tally.server_errors, "\n".join(tally.server_errors[:20])


@pytest.mark.deep
def test_no_operation_answers_5xx_deeper(fuzz_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    tally = fuzz(fuzz_api, examples=60, seed=SEED + 1)
    report(capsys, "fuzz (deeper)", tally)
    assert not tally.server_errors, "\n".join(tally.server_errors[:20])
