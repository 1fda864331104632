"""The ``grpc.aio`` server: ``envoy.service.auth.v3.Authorization/Check`` plus gRPC health."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from functools import lru_cache

import grpc
import httpx
import structlog
from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from envoy.service.auth.v3.attribute_context_pb2 import AttributeContext
from envoy.type.v3.http_status_pb2 import HttpStatus
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from redis.asyncio import Redis

from eco2.authz.decisions import CheckInput, Decider, Decision
from eco2.authz.http import start_http
from eco2.authz.keys import KeySource, key_source
from eco2.authz.metrics import CHECK_SECONDS, REVOCATIONS, decision_counter
from eco2.authz.tokens import TokenVerifier
from eco2.platform import tracing
from eco2.platform.revocations import RevocationCache, fallback_client
from eco2.settings import Settings

log = structlog.get_logger(__name__)

SERVICE_NAME = "envoy.service.auth.v3.Authorization"
OVERWRITE = HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD
_OK = status_pb2.Status(code=code_pb2.OK)
_DENIED = status_pb2.Status(code=code_pb2.PERMISSION_DENIED)
RESPONSE_CACHE_SIZE = 4096
CHECK_SPAN = f"{SERVICE_NAME}/Check"


class AuthorizationServicer(pb_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, decider: Decider, *, traced: bool = False) -> None:
        self.decider = decider
        self.traced = traced

    async def Check(  # noqa: N802 (the gRPC method name)
        self, request: pb.CheckRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.CheckResponse:
        http = request.attributes.request.http
        if self.traced:
            return to_response(await self._traced_decide(http, context))
        return to_response(await self._decide(http))

    async def _decide(self, http: AttributeContext.HttpRequest) -> Decision:
        started = time.perf_counter()
        decision = await self.decider.decide(CheckInput(http.method, http.path, http.headers))
        CHECK_SECONDS.observe(time.perf_counter() - started)
        decision_counter(decision.result, decision.reason).inc()
        return decision

    async def _traced_decide(
        self, http: AttributeContext.HttpRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> Decision:
        """The check as a span of the request's trace: a traced gateway puts its ext_authz
        span in the call's metadata; otherwise the checked request's own headers (which
        Envoy copies into the CheckRequest) carry the trace the check belongs to."""
        parent = tracing.check_context(
            tracing.metadata_carrier(context.invocation_metadata()), http.headers
        )
        with tracing.span(
            CHECK_SPAN,
            "server",
            parent=parent,
            attributes={"rpc.system": "grpc", "rpc.service": SERVICE_NAME, "rpc.method": "Check"},
        ) as span:
            decision = await self._decide(http)
            span.set_attributes(
                {
                    "eco2.authz.result": decision.result,
                    "eco2.authz.reason": decision.reason,
                    "request_id": http.headers.get("x-request-id", ""),
                }
            )
            return decision


def to_response(decision: Decision) -> pb.CheckResponse:
    # Decisions repeat (one per active session), and building protobufs costs more than
    # deciding: reuse the messages. Serialising a shared message is read-only.
    return _allowed(decision) if decision.allowed else _denied(decision)


def _headers(pairs: tuple[tuple[str, str], ...]) -> list[HeaderValueOption]:
    return [
        HeaderValueOption(header=HeaderValue(key=k, value=v), append_action=OVERWRITE)
        for k, v in pairs
    ]


@lru_cache(maxsize=RESPONSE_CACHE_SIZE)
def _allowed(decision: Decision) -> pb.CheckResponse:
    ok = pb.OkHttpResponse(
        headers=_headers(decision.set_headers), headers_to_remove=decision.remove_headers
    )
    return pb.CheckResponse(status=_OK, ok_response=ok)


@lru_cache(maxsize=256)
def _denied(decision: Decision) -> pb.CheckResponse:
    denied = pb.DeniedHttpResponse(
        status=HttpStatus(code=decision.status),
        headers=_headers(decision.set_headers),
        body=decision.body.decode(),
    )
    return pb.CheckResponse(status=_DENIED, denied_response=denied)


@dataclass
class AuthzService:
    """Everything ``eco2 authz`` runs: keys, revocation cache, gRPC and HTTP servers."""

    settings: Settings
    http: httpx.AsyncClient = field(default_factory=httpx.AsyncClient)
    keys: KeySource = field(init=False)
    redis: Redis = field(init=False)
    revocations: RevocationCache = field(init=False)
    grpc_port: int = 0
    http_port: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _grpc: grpc.aio.Server | None = None
    _http: asyncio.Server | None = None

    def __post_init__(self) -> None:
        s = self.settings
        if not s.redis_url:
            raise RuntimeError("ECO2_REDIS_URL is required by eco2 authz")
        self.keys = key_source(s, self.http)
        self.redis = fallback_client(s.redis_url)
        self.revocations = RevocationCache.for_settings(s, lookups=self.redis, metrics=REVOCATIONS)

    def decider(self) -> Decider:
        return Decider(
            TokenVerifier(self.keys, self.settings),
            self.revocations,
            cors_origins=self.settings.cors_origins,
            fail_open=self.settings.authz_fail_open,
        )

    async def start(self, host: str, grpc_port: int, http_port: int) -> None:
        self._tasks = [asyncio.create_task(self.keys.run(), name="authz-keys")]
        self.revocations.start()
        self._grpc = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        pb_grpc.add_AuthorizationServicer_to_server(
            AuthorizationServicer(self.decider(), traced=tracing.enabled()), self._grpc
        )
        health_pb2_grpc.add_HealthServicer_to_server(await _health(), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{host}:{grpc_port}")
        await self._grpc.start()
        self._http = await start_http(host, http_port, self.not_ready)
        self.http_port = int(self._http.sockets[0].getsockname()[1])
        log.info("authz_started", grpc_port=self.grpc_port, http_port=self.http_port)

    async def not_ready(self) -> list[str]:
        """Names of what keeps this process from taking traffic (empty: ready)."""
        failed = [] if self.keys.ring is not None else ["keys"]
        try:
            await asyncio.wait_for(self.redis.ping(), 2.0)
        except Exception:  # any failure to answer means "not reachable"
            failed.append("redis")
        return failed

    async def stop(self, grace: float = 2.0) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace)
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.revocations.close()
        await self.redis.aclose()
        await self.http.aclose()


async def _health() -> health.aio.HealthServicer:
    servicer = health.aio.HealthServicer()
    for name in ("", SERVICE_NAME):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servicer


async def run(settings: Settings, host: str, grpc_port: int, http_port: int) -> None:
    """Serve until SIGINT/SIGTERM, then drain in-flight checks."""
    service = AuthzService(settings)
    await service.start(host, grpc_port, http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("authz_stopping")
    await service.stop()
