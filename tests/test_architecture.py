"""Module boundaries as a test: the import contracts in ``pyproject.toml`` (import-linter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    # A separate process: import-linter reconfigures logging (disabling existing loggers).
    run = subprocess.run(
        [Path(sys.executable).with_name("lint-imports"), "pyproject.toml", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
