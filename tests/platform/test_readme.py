"""README must stay true: every setting documented, the two commands present."""

from __future__ import annotations

import re
from pathlib import Path

from eco2.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"ECO2_{name.upper()}"
        for name in Settings.model_fields
        if f"ECO2_{name.upper()}" not in README
    ]
    assert not missing, f"README lacks: {missing}"


def test_every_opentelemetry_variable_is_documented() -> None:
    """The OTEL_* variables the code reads or the chart sets."""
    root = Path(__file__).parents[2]
    sources = [*(root / "src").rglob("*.py"), *(root / "deploy" / "helm").rglob("*.tpl")]
    used = {
        name for path in sources for name in re.findall(r"\bOTEL_[A-Z_]*[A-Z]", path.read_text())
    }
    assert used, "no OTEL_ variable found: the scan is broken"
    missing = sorted(name for name in used if f"`{name}`" not in README)
    assert not missing, f"README lacks: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "make test" in README
    assert "make run" in README
    assert ci.strip().splitlines()[-1] == "make test"
