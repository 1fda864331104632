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
    """What a process must have before it takes traffic: named dependency checks, and warm-ups
    (slow start-up work such as loading the knowledge index) running in threads meanwhile, so
    nothing slow runs on the event loop and start-up itself is quick."""

    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    warm_ups: dict[str, asyncio.Task[object]] = field(default_factory=dict)
    status: Callable[[], dict[str, Any]] | None = None  # e.g. the embedded stores' supervisor

    def warm(self, name: str, work: Callable[[], object]) -> None:
        """Run ``work`` in a thread; ``/ready`` waits for it. Once per name (domains share)."""
        if name not in self.warm_ups:
            self.warm_ups[name] = asyncio.create_task(asyncio.to_thread(work), name=f"warm:{name}")

    def warming(self) -> list[str]:
        return [n for n, task in self.warm_ups.items() if not task.done()]

    def warm_up_failures(self) -> list[str]:
        return [
            n for n, t in self.warm_ups.items() if t.done() and not t.cancelled() and t.exception()
        ]

    async def failures(self) -> list[str]:
        names = list(self.checks)
        results = await asyncio.gather(
            *(asyncio.wait_for(self.checks[n](), CHECK_TIMEOUT_SECONDS) for n in names),
            return_exceptions=True,
        )
        failed = [n for n, r in zip(names, results, strict=True) if isinstance(r, BaseException)]
        return failed + self.warm_up_failures()

    async def wait_warm(self) -> None:
        await asyncio.gather(*self.warm_ups.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self.warm_ups.values():
            task.cancel()  # the thread finishes on its own; nobody waits for it
        await self.wait_warm()


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", include_in_schema=False)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    readiness: Readiness = request.app.state.readiness
    failed, warming = await readiness.failures(), readiness.warming()
    extra: dict[str, Any] = {}
    if readiness.status:
        extra["embedded"] = embedded = readiness.status()
        failed += [name for name, server in embedded.items() if server["state"] != "running"]
    if failed:
        body = {
            "status": "unavailable",
            "error": {
                "code": "dependency_unavailable",
                "message": f"준비되지 않은 의존성: {', '.join(failed)}",
                "failed": failed,
            },
            "warming": warming,
            **extra,
        }
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    if warming:
        body = {
            "status": "starting",
            "error": {
                "code": "warming_up",
                "message": f"시작 준비 중입니다: {', '.join(warming)}",
            },
            "warming": warming,
            **extra,
        }
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(
        {"status": "ready", "checks": list(readiness.checks), **extra}, status_code=HTTP_200_OK
    )
