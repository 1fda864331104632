"""SQLAlchemy 2 async wiring: declarative base, URL normalisation, the Litestar plugin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from sqlalchemy import DateTime, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


def sqlalchemy_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    """The app's engine: pooled, pre-pinged, and with a deadline on every wait (a stalled
    PostgreSQL fails a request with a 503 in seconds instead of hanging it)."""
    return SQLAlchemyAsyncConfig(
        connection_string=async_url(settings.database_url or ""),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        engine_config=EngineConfig(
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_timeout=settings.db_pool_timeout_seconds,  # type: ignore[arg-type]  # a float works
            connect_args=deadlines(settings),
            hide_parameters=True,  # error messages (and so logs) never carry user data
        ),
        before_send_handler="autocommit",
        session_dependency_key="db_session",
        create_all=False,
    )


def sqlalchemy_plugin(config: SQLAlchemyAsyncConfig) -> SQLAlchemyPlugin:
    return SQLAlchemyPlugin(config=config)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
