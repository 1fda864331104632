"""``/api/v1/scan``: synchronous classify, jobs with SSE progress, history, categories, metrics."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from eco2.domains.scan.deps import Scans
from eco2.domains.scan.providers.matching import knowledge, warm_up
from eco2.domains.scan.schemas import (
    ClassifyRequest,
    HistoryPage,
    InternalClassify,
    JobAccepted,
    ScanCategory,
    ScanMetrics,
    ScanResponse,
)
from eco2.platform import idempotency
from eco2.platform.di import AuthRequest
from eco2.platform.internal import internal_router
from eco2.platform.job_events import last_event_id, sse
from eco2.registry import API


@post("/classify", status_code=HTTP_200_OK, summary="Scan a photo and wait for the answer")
async def classify(
    request: AuthRequest, scans: Scans, data: JSONBody[ClassifyRequest]
) -> ScanResponse:
    async with scans.limit(request.user.user_id):
        return await scans.classify(request.user.user_id, data)


@post(
    "/",
    status_code=HTTP_202_ACCEPTED,
    summary="Start a scan; follow it over SSE",
    description="Send `Idempotency-Key` to make a retried submit return the same job.",
)
async def submit(
    request: AuthRequest, scans: Scans, data: JSONBody[ClassifyRequest]
) -> JobAccepted:
    return await scans.submit(request.user.user_id, data, idempotency.request_key(request))


@get("/{job_id:str}/events", summary="Progress events (SSE; resumable with Last-Event-ID)")
async def events(request: AuthRequest, scans: Scans, job_id: FromPath[str]) -> ServerSentEvent:
    return sse(await scans.stream(request.user.user_id, job_id, last_event_id(request)))


@get(
    ["/{job_id:str}/result", "/tasks/{job_id:str}", "/task/{job_id:str}"],
    summary="The scan's result (202 while it runs)",
)
async def result(
    request: AuthRequest, scans: Scans, job_id: FromPath[str]
) -> Response[ScanResponse]:
    body = await scans.result(request.user.user_id, job_id)
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
    scans: Scans,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: FromQuery[str | None] = None,
) -> HistoryPage:
    return await scans.history(request.user.user_id, limit, cursor)


@get("/metrics", summary="My scan counters")
async def metrics(request: AuthRequest, scans: Scans) -> ScanMetrics:
    return await scans.metrics(request.user.user_id)


@post("/classify", status_code=HTTP_200_OK)
async def internal_classify(scans: Scans, data: JSONBody[InternalClassify]) -> ScanResponse:
    return await scans.classify(data.user_id, ClassifyRequest(data.image_url, data.user_input))


internal = internal_router("scan", [internal_classify])

scan_router = Router(
    f"{API}/scan",
    route_handlers=[classify, submit, events, result, categories, history, metrics],
    tags=["scan"],
)

route_handlers = [scan_router, internal]
warm_ups = {"knowledge": warm_up}
