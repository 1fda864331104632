"""SQLAlchemy 2 async wiring: declarative base, URL normalisation, the engine and its pool,
reads outside transactions.

No Litestar SQLAlchemy plugin: services open their own sessions (``Runtime.sessions``) or read
through ``Statements``; the plugin's session dependency would go unused while its before-send hook
ran on every response message of every request."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Executable, MetaData, Row, event
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

from eco2.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every model sets ``__table_args__ = {"schema": <its domain's schema>}``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def async_url(url: str) -> str:
    """Accept plain ``postgres://``/``postgresql://`` URLs and pin the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def deadlines(settings: Settings) -> dict[str, Any]:
    """asyncpg connect arguments that bound every wait on PostgreSQL: the connection handshake,
    each statement (on the client, which also cancels it, and on the server)."""
    statement = settings.db_statement_timeout_seconds
    return {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": statement,
        "server_settings": {"statement_timeout": str(int(statement * 1000))},
    }


# A pooled connection unused for this long is pinged before it is handed out (see ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def create_engine(settings: Settings) -> AsyncEngine:
    """The process's engine: pooled, with a deadline on every wait (a stalled PostgreSQL fails a
    request with a 503 in seconds instead of hanging it), idle connections checked before use."""
    engine = create_async_engine(
        async_url(settings.database_url or ""),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=deadlines(settings),
        hide_parameters=True,  # error messages (and so logs) never carry user data
    )
    ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Hand out no connection that died while it sat in the pool (PostgreSQL restarted, a proxy
    dropped it): one idle for ``idle_seconds`` is pinged at checkout and, if dead, replaced by
    the pool. ``pool_pre_ping`` would ping on every checkout, which with asyncpg costs three
    round trips (BEGIN, the ping, ROLLBACK) per request under load; a connection in steady use
    that meets a dead server fails its statement (a 503) and invalidates the whole pool."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # the others sat in the pool just as long: check them all again
            raise InvalidatePoolError("a pooled connection died while idle") from exc


class Statements:
    """Single statements run outside any transaction, each atomic on its own: with asyncpg a
    session would add a BEGIN and a ROLLBACK (or COMMIT) round trip to each. A read that meets
    a connection the server dropped is run once more on a fresh one (reading again is
    harmless)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def read(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        try:
            return await self._all(statement, parameters)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return await self._all(statement, parameters)

    async def write(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """A statement that writes, committed on its own. Run once: whether running it again is
        safe is the caller's to know."""
        return await self._all(statement, parameters)

    async def _all(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> Sequence[Row[Any]]:
        async with self._engine.connect() as connection:
            return (await connection.execute(statement, parameters)).all()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
