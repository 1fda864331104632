"""Alembic environment: every domain's models, one history, each table in its domain schema."""

from __future__ import annotations

import asyncio
from importlib import import_module
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.dialects.postgresql import DOMAIN
from sqlalchemy.ext.asyncio import async_engine_from_config
from sqlalchemy.types import UserDefinedType

from eco2 import registry
from eco2.platform.db import Base, async_url

for domain in registry.DOMAINS:
    if domain.db_schema:
        import_module(domain.models_module())

SCHEMAS = {d.db_schema for d in registry.DOMAINS if d.db_schema}
config = context.config
target_metadata = Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table":
        return getattr(obj, "schema", None) in SCHEMAS
    return True


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    if type_ == "schema":
        return name in SCHEMAS
    return True


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """A user-defined type (earthdistance's ``earth``) is reflected as a DOMAIN of a type
    SQLAlchemy does not know: the same type when the names agree."""
    if isinstance(metadata_type, UserDefinedType) and isinstance(inspected_type, DOMAIN):
        return bool(metadata_type.get_col_spec().rsplit(".", 1)[-1] != inspected_type.name)
    return None  # the default comparison


def configure(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_object=include_object,
        include_name=include_name,
        compare_type=compare_type,
    )


def run_sync(connection: Any) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = async_url(
        config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    )
    engine = async_engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(run_sync)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        include_schemas=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async())
