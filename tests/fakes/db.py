"""Direct SQL against the test database, for arranging and checking rows behind the API."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from eco2.platform.db import async_url
from eco2.settings import Settings


async def sql(settings: Settings, query: str, **params: Any) -> list[Row[Any]]:
    """Run one statement in its own transaction; rows when it returns any."""
    engine = create_async_engine(async_url(settings.database_url or ""), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(query), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def count(settings: Settings, table: str, user_id: str) -> int:
    """Rows of ``table`` (schema-qualified) that belong to ``user_id``."""
    column = "id" if table == "users.users" else "user_id"
    rows = await sql(settings, f"SELECT count(*) FROM {table} WHERE {column} = :u", u=user_id)  # noqa: S608
    return int(rows[0][0])


async def erased(settings: Settings, user_id: str, within: float = 20.0) -> None:
    """Wait for the account erasure of ``user_id`` (a job) to complete."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        rows = await sql(settings, "SELECT state FROM users.erasures WHERE user_id = :u", u=user_id)
        if rows and rows[0][0] == "completed":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the erasure of {user_id} did not complete")
