"""Module boundaries as a test: the import contracts in ``pyproject.toml`` (import-linter)."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_import_contracts_are_kept() -> None:
    # The report (which contract broke, through which import chain) goes to stdout.
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0
