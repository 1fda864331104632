"""Alembic, driven programmatically: one history in ``migrations/``, schema per domain."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from eco2.settings import Settings


def migrations_dir() -> Path:
    """``ECO2_MIGRATIONS_DIR``, else the source tree's (or the image's) ``migrations/``."""
    configured = os.environ.get("ECO2_MIGRATIONS_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(__file__).resolve().parents[2] / "migrations", Path.cwd() / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("migrations/ not found; set ECO2_MIGRATIONS_DIR")


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = settings.database_url
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=True)


def revision(settings: Settings, message: str, *, autogenerate: bool) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=autogenerate)
