"""The single list of bounded contexts.

The app factory, the CLI's ``--domain`` choices, the Envoy/Istio routes, the authz allowlist,
the Helm values and the tests all derive from (or are checked against) ``DOMAINS``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager
    from types import ModuleType

    from litestar.types import ControllerRouterHandler

    from eco2.platform.di import ServiceDependency
    from eco2.platform.runtime import Runtime

    Lifecycle = Callable[[Runtime], AbstractAsyncContextManager[object]]

API = "/api/v1"
OAUTH_PROVIDERS = ("kakao", "google", "naver")

# Platform routes every process serves; always public.
PLATFORM_PUBLIC_PATHS = ("/health", "/ready", "/metrics", "/docs*")


@dataclass(frozen=True, slots=True)
class Domain:
    """One bounded context.

    ``name`` is also its package, ``eco2.domains.<name>``.
    ``prefixes`` are the external URL prefixes the gateway routes to this domain.
    ``public_paths`` are reachable without a token; a trailing ``*`` means "this prefix".
    ``db_schema`` is the PostgreSQL schema owning the domain's tables (``None``: no tables).
    ``holds_user_data``: the domain stores per-user rows that an account deletion must erase.
    ``runs_jobs``: the domain has a job queue (``eco2 worker --domain``, a worker Deployment).
    ``uses_knowledge``: the domain searches the knowledge library (its processes start Kiwi,
    the library's Korean analyzer, first thing: ``eco2.serving``).
    """

    name: str
    prefixes: tuple[str, ...]
    public_paths: tuple[str, ...] = ()
    db_schema: str | None = None
    holds_user_data: bool = False
    runs_jobs: bool = False
    uses_knowledge: bool = False

    @property
    def internal_prefix(self) -> str:
        """Service-to-service routes; never routed by the gateway."""
        return f"/internal/{self.name}"

    def route_handlers(self) -> list[ControllerRouterHandler]:
        return list(self._controllers().route_handlers)

    def lifecycle(self) -> Lifecycle | None:
        """``deps.lifecycle``: builds the domain's service once the process-wide clients exist
        (and does its idempotent start-up work: seeding a catalog, a first data import), yields
        it, and closes it after the requests, before those clients close."""
        lifecycle: Lifecycle | None = getattr(self._deps(), "lifecycle", None)
        return lifecycle

    def dependency(self) -> ServiceDependency[object] | None:
        """``deps.dependency``: how handlers take the domain's service (``users: Users``)."""
        dependency: ServiceDependency[object] | None = getattr(self._deps(), "dependency", None)
        return dependency

    def warm_ups(self) -> dict[str, Callable[[], object]]:
        """Slow, blocking start-up work by name (loading the knowledge index): run in threads
        while ``/ready`` waits, or before the event loop starts in server processes."""
        return dict(getattr(self._controllers(), "warm_ups", {}))

    def models_module(self) -> str:
        return f"eco2.domains.{self.name}.models"

    def _controllers(self) -> ModuleType:
        return import_module(f"eco2.domains.{self.name}.controllers")

    def _deps(self) -> ModuleType | None:
        module = f"eco2.domains.{self.name}.deps"
        return import_module(module) if find_spec(module) is not None else None


DOMAINS: tuple[Domain, ...] = (
    Domain(
        name="auth",
        prefixes=(f"{API}/auth",),
        # Where the signed-out go: sign-in, refresh and logout read their own credentials, and
        # an unknown provider is a 404 that says so, not a 401.
        public_paths=(f"{API}/auth/*",),
        db_schema="auth",
        holds_user_data=True,
    ),
    Domain(
        name="users",
        prefixes=(f"{API}/user", f"{API}/users"),
        db_schema="users",
        holds_user_data=True,
        runs_jobs=True,  # account erasure
    ),
    Domain(
        name="character",
        prefixes=(
            f"{API}/character",
            f"{API}/user/me/characters",
            f"{API}/users/me/characters",
        ),
        public_paths=(f"{API}/character/catalog",),
        db_schema="character",
        holds_user_data=True,
    ),
    Domain(name="location", prefixes=(f"{API}/locations",), db_schema="location"),
    Domain(
        name="images",
        prefixes=(f"{API}/images",),
        # The local backend's signed PUT carries no cookies (contract §3.9) and the stored
        # files behind ``cdn_url`` must be readable by anyone (browser, vision model).
        public_paths=(f"{API}/images/uploads/*", f"{API}/images/files/*"),
        holds_user_data=True,
    ),
    Domain(
        name="scan",
        prefixes=(f"{API}/scan",),
        public_paths=(f"{API}/scan/categories",),
        db_schema="scan",
        holds_user_data=True,
        runs_jobs=True,
        uses_knowledge=True,
    ),
    Domain(
        name="chat",
        prefixes=(f"{API}/chat",),
        db_schema="chat",
        holds_user_data=True,
        runs_jobs=True,
        uses_knowledge=True,
    ),
    # The knowledge library over HTTP and the news feed: public, identical for everyone, no
    # user data.
    Domain(
        name="info",
        prefixes=(f"{API}/info",),
        public_paths=(f"{API}/info*",),
        db_schema="info",
        runs_jobs=True,  # the news collection
        uses_knowledge=True,
    ),
)

DOMAIN_NAMES: tuple[str, ...] = tuple(d.name for d in DOMAINS)
JOB_DOMAINS: tuple[str, ...] = tuple(d.name for d in DOMAINS if d.runs_jobs)


def get_domain(name: str) -> Domain:
    for domain in DOMAINS:
        if domain.name == name:
            return domain
    raise KeyError(name)


def domains_from_environment() -> list[str]:
    """The domains a server process serves: ``ECO2_DOMAINS`` (comma-separated; empty: all)."""
    return [n for n in os.environ.get("ECO2_DOMAINS", "").split(",") if n]


def select(names: Sequence[str] | None) -> tuple[Domain, ...]:
    """Domains for a process: all of them when ``names`` is empty, in registry order."""
    if not names:
        return DOMAINS
    unknown = sorted(set(names) - set(DOMAIN_NAMES))
    if unknown:
        raise KeyError(", ".join(unknown))
    return tuple(d for d in DOMAINS if d.name in names)


def route_table() -> list[tuple[str, str]]:
    """(prefix, domain) pairs, longest prefix first, as a first-match router needs them."""
    pairs = [(prefix, d.name) for d in DOMAINS for prefix in d.prefixes]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def job_stream_path(kind: str, job_id: str) -> str:
    """Where a job's SSE stream is served (scan, chat): its ``stream_url`` without the ticket,
    and the one path a stream ticket for the job is valid on (app and gateway)."""
    return f"{API}/{kind}/{job_id}/events"


def public_paths() -> tuple[str, ...]:
    """Every path the gateway lets through without a token."""
    return PLATFORM_PUBLIC_PATHS + tuple(p for d in DOMAINS for p in d.public_paths)


def public_path_patterns() -> list[str]:
    """``public_paths`` as anchored regular expressions (a trailing ``*``: the prefix)."""
    return [
        f"^{re.escape(p[:-1])}" if p.endswith("*") else f"^{re.escape(p)}$" for p in public_paths()
    ]


def is_public(path: str) -> bool:
    return _PUBLIC.match(path) is not None


_PUBLIC = re.compile("|".join(public_path_patterns()))
