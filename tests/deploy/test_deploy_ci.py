"""GitHub workflows (they cannot run here: they must at least parse and be wired right) and
the container build files."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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


def test_a_release_waits_for_ci() -> None:
    """Images are built and tagged only for a push that passed CI, from exactly that commit."""
    ci = load_workflow(ROOT / ".github" / "workflows" / "ci.yaml")
    release = load_workflow(ROOT / ".github" / "workflows" / "release.yaml")
    assert set(release["on"]) == {"workflow_run"}  # no push or manual trigger around CI
    trigger = release["on"]["workflow_run"]
    assert trigger["workflows"] == [ci["name"]]
    assert trigger["types"] == ["completed"]
    assert set(trigger["branches"]) == set(ci["on"]["push"]["branches"])
    image = release["jobs"]["image"]
    assert "workflow_run.conclusion == 'success'" in image["if"]
    assert "workflow_run.event == 'push'" in image["if"]
    checkout = image["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"
    assert "github.sha" not in (ROOT / ".github" / "workflows" / "release.yaml").read_text()
    assert release["jobs"]["deploy"]["needs"] == "image"


def _make_lint_commands() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [line.strip().removeprefix("$(BIN)/") for line in recipe]


def test_lint_is_the_same_in_make_ci_and_pre_commit() -> None:
    commands = _make_lint_commands()
    assert [c.split()[0] for c in commands] == ["ruff", "ruff", "mypy", "lint-imports"]
    ci = load_workflow(ROOT / ".github" / "workflows" / "ci.yaml")
    runs = [step["run"] for step in ci["jobs"]["lint"]["steps"] if "run" in step]
    assert runs[1:] == commands
    assert "torch" not in runs[0]  # strict typing holds without the offline model installed

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: (repo, hook) for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy", "import-contracts"} <= set(hooks)
    ruff_repo = hooks["ruff-check"][0]
    assert ruff_repo["repo"] == "https://github.com/astral-sh/ruff-pre-commit"
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert f"ruff=={ruff_repo['rev'].removeprefix('v')}" in dev["dev"]
    for repo in config["repos"]:
        if repo["repo"] != "local":
            assert re.fullmatch(r"v?\d+(\.\d+)+", repo["rev"]), f"unpinned {repo['repo']}"
    entries = [hook["entry"] for _, hook in hooks.values() if "entry" in hook]
    assert [entry.removeprefix(".venv/bin/") for entry in entries] == commands[2:]


def test_pre_commit_config_is_valid() -> None:
    pre_commit = Path(sys.executable).with_name("pre-commit")
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed (the dev extra has it)")
    check = subprocess.run(
        [pre_commit, "validate-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


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
