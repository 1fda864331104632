"""Explicitly marked app-wide dependencies (Litestar 3 drops inferred ones).

Use them under their provider's name: ``runtime: RuntimeDep``. A domain's service is one
named dependency (``users: Users``), declared in its ``deps.py`` as a
:class:`ServiceDependency` and provided app-wide for each domain the app serves. The caller
is no dependency: ``request: AuthRequest`` and ``request.user`` (set by the authentication
middleware, :mod:`eco2.platform.identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.platform.runtime import Runtime, Services
from eco2.platform.security import Identity

AuthRequest: TypeAlias = Request[Identity, None, State]
RuntimeDep: TypeAlias = NamedDependency[Runtime]

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class ServiceDependency(Generic[S]):
    """A domain's service as handlers take it: a ``kind`` under the name ``key``."""

    key: str
    kind: type[S]

    def provide(self, domain: str, services: Services) -> Provide:
        """The service ``domain`` registers in this app's ``services``, looked up per request.
        The provider takes no parameters: Litestar checks a provider's parameters (a
        ``state``) against a signature model on every call, which cost more than the rest of
        the injection together."""
        kind = self.kind

        def provide() -> S:
            return services.get(domain, kind)

        return Provide(provide, sync_to_thread=False)
