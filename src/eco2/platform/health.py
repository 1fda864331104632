"""Liveness (``/health``) and readiness (``/ready``) probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

ReadinessCheck = Callable[[], Awaitable[Any]]
CHECK_TIMEOUT_SECONDS = 2.0


@dataclass
class Readiness:
    """Named dependency checks a process must pass before it takes traffic."""

    checks: dict[str, ReadinessCheck] = field(default_factory=dict)

    async def failures(self) -> list[str]:
        names = list(self.checks)
        results = await asyncio.gather(
            *(asyncio.wait_for(self.checks[n](), CHECK_TIMEOUT_SECONDS) for n in names),
            return_exceptions=True,
        )
        return [n for n, r in zip(names, results, strict=True) if isinstance(r, BaseException)]


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", include_in_schema=False)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    readiness: Readiness = request.app.state.readiness
    failed = await readiness.failures()
    if failed:
        body = {
            "status": "unavailable",
            "error": {
                "code": "dependency_unavailable",
                "message": f"준비되지 않은 의존성: {', '.join(failed)}",
                "failed": failed,
            },
        }
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"status": "ready", "checks": list(readiness.checks)}, status_code=HTTP_200_OK)
