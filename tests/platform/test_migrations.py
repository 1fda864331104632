"""The migrations build exactly the schema the models declare (``alembic check``)."""

from __future__ import annotations

from alembic import command

from eco2.migrate import alembic_config
from eco2.settings import Settings


def test_models_match_the_migrated_schema(base_settings: Settings) -> None:
    command.check(alembic_config(base_settings))  # raises on any difference
