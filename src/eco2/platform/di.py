"""Explicitly marked app-wide dependencies (Litestar 3 drops inferred ones).

Use them under their provider's name: ``identity: Authenticated``, ``runtime: RuntimeDep``,
``db_session: DbSession``.
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.platform.runtime import Runtime
from eco2.platform.security import Identity

Authenticated: TypeAlias = NamedDependency[Identity]
RuntimeDep: TypeAlias = NamedDependency[Runtime]
DbSession: TypeAlias = NamedDependency[AsyncSession]
