"""``/api/v1/scan``: synchronous classify, jobs with SSE progress, history, categories, metrics."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Annotated

from litestar import Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from eco2.domains.scan import services, store
from eco2.domains.scan.deps import Scans, dependencies
from eco2.domains.scan.providers.matching import knowledge, warm_up
from eco2.domains.scan.results import to_scan_response
from eco2.domains.scan.schemas import (
    ClassifyRequest,
    HistoryPage,
    InternalClassify,
    JobAccepted,
    ScanCategory,
    ScanMetrics,
    ScanResponse,
)
from eco2.domains.scan.services import ScanService
from eco2.platform import ratelimit
from eco2.platform.di import AuthRequest, DbSession
from eco2.platform.errors import NotFound
from eco2.platform.ids import parse_user_id
from eco2.platform.internal import require_internal_token
from eco2.platform.jobs import last_event_id
from eco2.registry import API


def scan_limit(scans: ScanService, user_id: str) -> AbstractAsyncContextManager[None]:
    """Each scan is a paid model call: one per-user budget for sync scans and jobs."""
    limit, window = (
        scans.runtime.settings.scan_rate_limit,
        scans.runtime.settings.scan_rate_window_seconds,
    )
    return ratelimit.per_user(
        scans.runtime.redis, "scan", user_id, limit, window, "사진 분석 요청이"
    )


@post("/classify", status_code=HTTP_200_OK, summary="Scan a photo and wait for the answer")
async def classify(
    request: AuthRequest, scans: Scans, data: JSONBody[ClassifyRequest]
) -> ScanResponse:
    async with scan_limit(scans, request.user.user_id):
        return await scans.classify(request.user.user_id, data)


@post("/", status_code=HTTP_202_ACCEPTED, summary="Start a scan; follow it over SSE")
async def submit(
    request: AuthRequest, scans: Scans, data: JSONBody[ClassifyRequest]
) -> JobAccepted:
    async with scan_limit(scans, request.user.user_id):
        return await scans.submit(request.user.user_id, data)


@get("/{job_id:str}/events", summary="Progress events (SSE; resumable with Last-Event-ID)")
async def events(request: AuthRequest, scans: Scans, job_id: FromPath[str]) -> ServerSentEvent:
    if await scans.hub.owner(job_id) != request.user.user_id:
        raise NotFound("분석 작업을 찾을 수 없습니다.", code="scan_not_found")
    return scans.hub.sse(job_id, last_event_id(request))


@get(
    ["/{job_id:str}/result", "/tasks/{job_id:str}", "/task/{job_id:str}"],
    summary="The scan's result (202 while it runs)",
)
async def result(
    request: AuthRequest, scans: Scans, db_session: DbSession, job_id: FromPath[str]
) -> Response[ScanResponse]:
    scan = await store.owned_scan(db_session, parse_user_id(request.user.user_id), job_id)
    if store.abandoned(scan, scans.runtime.settings.scan_timeout_seconds):
        scan.status, scan.error_code = "failed", "scan_abandoned"
    body = to_scan_response(scan)
    running = body.status in ("queued", "running")
    return Response(body, status_code=HTTP_202_ACCEPTED if running else HTTP_200_OK)


@get("/categories", summary="The taxonomy: major → middle → minor")
async def categories() -> list[ScanCategory]:
    return [
        ScanCategory(c.major, c.middle, c.recyclable, list(c.minors), c.pickup_category)
        for c in knowledge().categories()
    ]


@get("/history", summary="My scans, newest first")
async def history(
    request: AuthRequest,
    db_session: DbSession,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: FromQuery[str | None] = None,
) -> HistoryPage:
    return await store.history(db_session, parse_user_id(request.user.user_id), limit, cursor)


@get("/metrics", summary="My scan counters")
async def metrics(request: AuthRequest, db_session: DbSession) -> ScanMetrics:
    return await store.metrics(db_session, parse_user_id(request.user.user_id))


@post("/classify", status_code=HTTP_200_OK)
async def internal_classify(scans: Scans, data: JSONBody[InternalClassify]) -> ScanResponse:
    return await scans.classify(data.user_id, ClassifyRequest(data.image_url, data.user_input))


internal = Router(
    "/internal/scan",
    route_handlers=[internal_classify],
    dependencies=dependencies,
    guards=[require_internal_token],
    include_in_schema=False,
)

scan_router = Router(
    f"{API}/scan",
    route_handlers=[classify, submit, events, result, categories, history, metrics],
    dependencies=dependencies,
    tags=["scan"],
)

route_handlers = [scan_router, internal]
on_startup = [services.start]
warm_ups = {"knowledge": warm_up}
on_shutdown = [services.stop]
