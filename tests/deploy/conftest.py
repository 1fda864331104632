"""Offline validation of the deployment tree: chart, ArgoCD, Terraform, Ansible, CI workflows.

Tools come from the `deploy` extra (kubernetes-validate, ansible-core, ansible-lint, yamllint)
and from scripts/get-helm, scripts/get-checkov (installed into .tools/ on first use). A tool that
cannot be found or installed skips its tests locally but fails them in CI (CI=true).
"""

from __future__ import annotations

import shutil

import pytest
from deploy_support import TOOLS, Renderer, installed, missing_tool


@pytest.fixture(scope="session")
def helm() -> str:
    """The one place that finds helm: .tools/bin/helm (scripts/get-helm), else PATH."""
    found = installed("get-helm", TOOLS / "bin" / "helm") or shutil.which("helm")
    if not found:
        missing_tool("helm", "bash scripts/get-helm")
    return str(found)


@pytest.fixture(scope="session")
def checkov() -> str:
    found = installed("get-checkov", TOOLS / "checkov" / "bin" / "checkov") or shutil.which(
        "checkov"
    )
    if not found:
        missing_tool("checkov", "bash scripts/get-checkov")
    return str(found)


@pytest.fixture(scope="session")
def render(helm: str) -> Renderer:
    return Renderer(helm)
