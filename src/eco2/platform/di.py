"""Explicitly marked app-wide dependencies (Litestar 3 drops inferred ones).

Use them under their provider's name: ``runtime: RuntimeDep``, ``db_session: DbSession``. The
caller is no dependency: ``request: AuthRequest`` and ``request.user`` (set by the
authentication guard, :mod:`eco2.platform.identity`).
"""

from __future__ import annotations

from typing import TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.platform.runtime import Runtime
from eco2.platform.security import Identity

AuthRequest: TypeAlias = Request[Identity, None, State]
RuntimeDep: TypeAlias = NamedDependency[Runtime]
DbSession: TypeAlias = NamedDependency[AsyncSession]
