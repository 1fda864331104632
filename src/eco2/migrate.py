"""Alembic, driven programmatically: one history in ``migrations/``, schema per domain."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from eco2.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

STAMP_FILE = "schema-stamp.json"


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
    # Alembic (and the models env.py imports) load here, not on import: a start that finds
    # the schema current never needs them.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = settings.database_url
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(settings), revision)


def upgrade_unless_current(settings: Settings, applied: Callable[[], set[str] | None]) -> None:
    """Upgrade to head, unless the data dir's stamp says these very migrations brought this
    database to head and the database agrees (``applied``: its revisions, one query; None when
    it cannot tell). Running Alembic to find nothing to do took a second of every start."""
    stamp = settings.data_dir / STAMP_FILE
    fingerprint = migrations_fingerprint()
    try:
        stamped = json.loads(stamp.read_text())
    except (OSError, ValueError):
        stamped = {}
    if stamped.get("migrations") == fingerprint and set(stamped.get("heads", ())) == applied():
        return
    upgrade(settings, "head")
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    partial = stamp.with_suffix(".tmp")
    partial.write_text(json.dumps({"migrations": fingerprint, "heads": sorted(heads)}))
    partial.replace(stamp)


def migrations_fingerprint() -> str:
    """A hash of every migration file (and env.py): any edit makes the stamp stale."""
    root = migrations_dir()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(f"\0{path.relative_to(root)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def downgrade(settings: Settings, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(settings), revision)


def current(settings: Settings) -> None:
    from alembic import command

    command.current(alembic_config(settings), verbose=True)


def revision(settings: Settings, message: str, *, autogenerate: bool) -> None:
    from alembic import command

    command.revision(alembic_config(settings), message=message, autogenerate=autogenerate)
