"""Explicitly marked app-wide dependencies (Litestar 3 drops inferred ones).

Use them under their provider's name: ``runtime: RuntimeDep``, ``db_session: DbSession``. A
domain's service is one named dependency declared in its ``deps.py`` with
:func:`service_dependency` (``users: Users``). The caller is no dependency:
``request: AuthRequest`` and ``request.user`` (set by the authentication middleware,
:mod:`eco2.platform.identity`).
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.platform.runtime import Runtime
from eco2.platform.security import Identity

AuthRequest: TypeAlias = Request[Identity, None, State]
RuntimeDep: TypeAlias = NamedDependency[Runtime]
DbSession: TypeAlias = NamedDependency[AsyncSession]

S = TypeVar("S")


def service_dependency(domain: str, kind: type[S]) -> Provide:
    """``domain``'s service, started with the domain, as a handler dependency (no I/O, no
    thread: a dictionary look-up per request)."""

    def provide(state: State) -> Any:
        runtime: Runtime = state.runtime
        return runtime.service(domain, kind)

    return Provide(provide, sync_to_thread=False)
