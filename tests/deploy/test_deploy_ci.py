"""GitHub workflows (they cannot run here: they must at least parse and be wired right) and
the container build files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


def load_workflow(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_well_formed(path: Path) -> None:
    workflow = load_workflow(path)
    assert workflow["name"]
    assert workflow["on"]
    assert "permissions" in workflow, "least-privilege GITHUB_TOKEN"
    for name, job in workflow["jobs"].items():
        assert job["runs-on"], name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: {step}"
            if "uses" in step:
                assert re.search(r"@v\d+$", step["uses"]), f"unpinned action {step['uses']}"


def test_workflows_cover_lint_test_build_and_render() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert {"ci", "chart", "release"} <= names
    text = {p.stem: p.read_text() for p in WORKFLOWS}
    assert "ruff check" in text["ci"]
    assert "pytest" in text["ci"]
    assert "scripts/get-helm" in text["ci"]
    assert "kubernetes-validate --strict" in text["chart"]
    release = load_workflow(ROOT / ".github" / "workflows" / "release.yaml")
    tags = release["jobs"]["image"]["steps"][-1]["with"]["tags"]
    assert "steps.meta.outputs.tag" in tags  # by commit
    assert "steps.meta.outputs.env" in tags  # by environment


def test_dockerfile_is_multistage_slim_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2
    assert all("slim" in image for image, _ in stages)
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, re.MULTILINE)
    assert 'ENTRYPOINT ["eco2"]' in runtime
    assert "ECO2_MIGRATIONS_DIR=/app/migrations" in runtime
    assert "COPY migrations ./migrations" in runtime


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert next(line for line in lines if not line.startswith("#")) == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "src", "migrations"} <= allowed
    assert ".git" not in allowed
    assert ".env" not in allowed
