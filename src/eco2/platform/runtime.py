"""Process-wide clients handed to services, typed (instead of reaching into ``app.state``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eco2.platform.db import Statements
from eco2.platform.internal import InternalClient
from eco2.platform.jobs import Jobs
from eco2.platform.security import Revocations, TokenCodec
from eco2.platform.shutdown import Stopping
from eco2.settings import Settings

S = TypeVar("S")


class Services:
    """Each served domain's service, registered by the app while the domain runs
    (docs/architecture.md, "Services"); handlers and in-process ports look them up."""

    __slots__ = ("_started",)

    def __init__(self) -> None:
        self._started: dict[str, object] = {}

    def register(self, domain: str, service: object) -> None:
        self._started[domain] = service

    def remove(self, domain: str) -> None:
        self._started.pop(domain, None)

    def __contains__(self, domain: object) -> bool:
        return domain in self._started

    def get(self, domain: str, kind: type[S]) -> S:
        """The started service of ``domain``, a ``kind``; a wiring error when there is none."""
        service = self._started.get(domain)
        if not isinstance(service, kind):
            raise LookupError(f"the {domain} domain has no started {kind.__name__} here")
        return service


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    domains: frozenset[str]
    redis: Redis
    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    statements: Statements  # single statements, outside transactions
    tokens: TokenCodec | None
    revocations: Revocations
    jobs: Jobs
    stopping: Stopping
    services: Services = field(default_factory=Services)

    def serves(self, domain: str) -> bool:
        return domain in self.domains

    def service(self, domain: str, kind: type[S]) -> S:
        return self.services.get(domain, kind)

    def internal_client(self, domain: str) -> InternalClient:
        return InternalClient(
            self.http,
            self.settings.service_url(domain),
            self.settings.internal_token or "",
            domain,
        )
