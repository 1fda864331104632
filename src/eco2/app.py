"""Application factory: one Litestar app for the whole monolith or for chosen domains."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol, PluginProtocol
from sqlalchemy import text

from eco2 import __version__, interop, registry
from eco2.keys import load_key_ring, token_codec
from eco2.platform.cache import redis_client
from eco2.platform.db import Statements, create_engine, session_factory
from eco2.platform.embedded import read_status
from eco2.platform.errors import exception_handlers
from eco2.platform.health import Readiness, health, ready
from eco2.platform.heap import settle_heap
from eco2.platform.identity import authentication, identity_resolver
from eco2.platform.inputs import InputPolicy, input_policy_middleware
from eco2.platform.jobs import Jobs
from eco2.platform.logging import configure_logging, request_id_middleware
from eco2.platform.metrics import MetricsController, prometheus_config
from eco2.platform.runtime import Runtime, Services
from eco2.platform.security import Revocations
from eco2.platform.shutdown import Stopping, notice_stop_signals
from eco2.platform.tracing import http_plugin, setup_tracing, trace_engine
from eco2.settings import Settings, get_settings

DOCS_PATH = "/docs"


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def _local_only(handler: object) -> bool:
    """Handlers and routers marked ``opt={"local_only": True}`` (a Controller class has no
    ``opt`` dict)."""
    opt = getattr(handler, "opt", None)
    return isinstance(opt, dict) and bool(opt.get("local_only"))


class Eco2Plugin(InitPluginProtocol):
    """Wires the kernel and the selected domains into one app (litestar-fullstack style)."""

    def __init__(
        self, settings: Settings, domains: Sequence[registry.Domain], *, http: bool = True
    ) -> None:
        self.settings = settings
        self.domains = tuple(domains)
        self.http = http  # False: a worker process (no domain routes, jobs always run)
        self.services = Services()  # filled as the domains start

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.settings
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("ECO2_DATABASE_URL and ECO2_REDIS_URL must be resolved before boot")
        configure_logging(level=settings.log_level, json=settings.json_logs)
        metrics = prometheus_config(app_name="eco2-" + "-".join(d.name for d in self.domains))

        app_config.route_handlers.extend([health, ready, MetricsController])
        if self.http:
            for domain in self.domains:
                app_config.route_handlers.extend(
                    h
                    for h in domain.route_handlers()
                    if settings.env == "local" or not _local_only(h)
                )
            app_config.route_handlers.extend(interop.internal_route_handlers(self.domains))
            app_config.dependencies.update(self._service_dependencies())
        app_config.middleware[:0] = [
            request_id_middleware,
            metrics.middleware,
            DefineMiddleware(input_policy_middleware, policy=InputPolicy.from_settings(settings)),
            authentication(registry.public_path_patterns()),
        ]
        app_config.exception_handlers.update(exception_handlers())
        app_config.dependencies["runtime"] = Provide(provide_runtime, sync_to_thread=False)
        app_config.cors_config = CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Content-Type",
                "X-Frontend-Origin",
                "Authorization",
                "X-Refresh-Token",
                "X-Request-Id",
                "Last-Event-ID",
            ],
            expose_headers=["X-Request-Id"],
            max_age=600,
        )
        app_config.logging_config = None  # structlog is configured above; no stdlib queue thread
        app_config.openapi_config = OpenAPIConfig(
            title="Eco² API",
            version=__version__,
            path=DOCS_PATH,
            render_plugins=[ScalarRenderPlugin(path="/"), SwaggerRenderPlugin(path="/swagger")],
        )
        app_config.state.update(
            {
                "settings": settings,
                "domains": {d.name for d in self.domains},
            }
        )
        app_config.lifespan.extend([self._runtime, self._domain_lifecycle])
        return app_config

    def _service_dependencies(self) -> dict[str, Provide]:
        provided: dict[str, Provide] = {}
        for domain in self.domains:
            dependency = domain.dependency()
            if dependency is None:
                continue
            if dependency.key in provided:
                raise RuntimeError(f"two domains' services are both named {dependency.key!r}")
            provided[dependency.key] = dependency.provide(domain.name, self.services)
        return provided

    @asynccontextmanager
    async def _runtime(self, app: Litestar) -> AsyncIterator[None]:
        """Process-wide clients, created once and closed on shutdown."""
        settings = self.settings
        redis = redis_client(settings)
        engine = create_engine(settings)
        trace_engine(engine)
        http = httpx.AsyncClient(timeout=settings.auth_http_timeout_seconds)
        keys = load_key_ring(settings)
        codec = token_codec(keys, settings) if keys else None
        resolver, revoked = identity_resolver(settings, codec, redis, registry.job_stream_path)
        revocations = Revocations(redis, revoked)

        async def database_ready() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def redis_ready() -> Any:
            return await redis.ping()

        app.state.update(
            runtime=Runtime(
                settings=settings,
                domains=frozenset(d.name for d in self.domains),
                redis=redis,
                http=http,
                sessions=session_factory(engine),
                statements=Statements(engine),
                tokens=codec,
                revocations=revocations,
                jobs=Jobs(settings, work=settings.jobs_in_process or not self.http),
                stopping=Stopping(),
                services=self.services,
            ),
            identity_resolver=resolver,
            readiness=Readiness(
                {"postgres": database_ready, "redis": redis_ready},
                status=_embedded_status(settings),
            ),
        )
        if revoked is not None:
            revoked.start()
        try:
            yield
        finally:
            if revoked is not None:
                await revoked.close()
            await http.aclose()
            await redis.aclose()
            await engine.dispose()

    @asynccontextmanager
    async def _domain_lifecycle(self, app: Litestar) -> AsyncIterator[None]:
        """Each domain's start-up once the process-wide clients exist, and its shutdown before
        they close (plain ``on_shutdown`` hooks would run after every lifespan manager exited).

        A domain's ``lifecycle`` builds its service, which is registered on the runtime (for
        its handlers and its port's in-process side) until the domain stops. Its ``warm_ups``
        run in threads meanwhile; ``/ready`` waits for them. The job workers start once every
        domain has registered its jobs and are drained before any domain stops."""
        runtime: Runtime = app.state.runtime
        readiness: Readiness = app.state.readiness
        for domain in self.domains:
            for name, work in domain.warm_ups().items():
                readiness.warm(name, work)
        async with AsyncExitStack() as started:
            started.push_async_callback(readiness.close)
            for domain in self.domains:
                lifecycle = domain.lifecycle()
                if lifecycle is not None:
                    service = await started.enter_async_context(lifecycle(runtime))
                    runtime.services.register(domain.name, service)
                    started.callback(runtime.services.remove, domain.name)
            started.push_async_callback(runtime.jobs.stop)
            await runtime.jobs.start()
            runtime.stopping.on_stop(runtime.jobs.begin_drain)
            notice_stop_signals(runtime.stopping)
            yield
            runtime.stopping.request()


def _embedded_status(settings: Settings) -> Callable[[], dict[str, Any]] | None:
    """What the supervisor of the embedded stores says (``eco2 serve`` on the embedded
    default), for ``/ready`` to show while one of them restarts."""
    if read_status(settings.data_dir) is None:
        return None
    return lambda: read_status(settings.data_dir) or {}


def create_app(
    domains: Sequence[str] | None = None, settings: Settings | None = None, *, http: bool = True
) -> Litestar:
    """The app of the chosen domains; ``http=False``: a job worker (platform routes only)."""
    settings = settings or get_settings()
    selected = registry.select(domains)
    plugins: list[PluginProtocol] = [Eco2Plugin(settings, selected, http=http)]
    if setup_tracing(service_name(selected, http=http)):  # with OTEL_EXPORTER_OTLP_ENDPOINT
        plugins.append(http_plugin())
    return Litestar(plugins=plugins, debug=False)


def service_name(domains: Sequence[registry.Domain], *, http: bool = True) -> str:
    """``eco2`` for the whole app, ``eco2-scan`` for a scan pod, ``eco2-scan-worker`` for its
    job worker (traces; ``OTEL_SERVICE_NAME`` overrides)."""
    if len(domains) == len(registry.DOMAINS):
        name = "eco2"
    else:
        name = "eco2-" + "-".join(d.name for d in domains)
    return name if http else f"{name}-worker"


def asgi() -> Litestar:
    """ASGI factory for servers: domains come from ``ECO2_DOMAINS`` (comma-separated)."""
    names = registry.domains_from_environment()
    app = create_app(names)
    app.on_startup.append(settle_heap)  # last, after the domains started; servers only
    return app


def worker_asgi() -> Litestar:
    """ASGI factory for ``eco2 worker``: the job domains of ``ECO2_DOMAINS`` (default: all),
    their workers, and the platform routes (health, readiness, metrics) only."""
    names = registry.domains_from_environment() or list(registry.JOB_DOMAINS)
    app = create_app(names, http=False)
    app.on_startup.append(settle_heap)
    return app
