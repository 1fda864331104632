"""checkov on the rendered chart, the Terraform and the Dockerfile: no unexplained failures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import CHART, ENVS, ROOT, TERRAFORM, Renderer, run

CHART_CONFIG = CHART.parent / "checkov.yaml"


def scan(checkov: str, *args: str) -> list[dict[str, Any]]:
    result = run(
        [checkov, *args, "--output", "json", "--quiet", "--compact", "--skip-download"], timeout=600
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout or "[]")
    reports = report if isinstance(report, list) else [report]
    assert reports, "checkov scanned nothing"
    return [failure for r in reports for failure in r.get("results", {}).get("failed_checks", [])]


def describe(failures: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f['check_id']} {f['resource']} ({f['file_path']})" for f in failures)


def test_checkov_rendered_chart(checkov: str, render: Renderer, tmp_path: Path) -> None:
    for env in ENVS:
        for mode in ("sidecar", "central"):
            (tmp_path / f"{env}-{mode}.yaml").write_text(render.text(env, f"authz.mode={mode}"))
    failures = scan(checkov, "--config-file", str(CHART_CONFIG), "-d", str(tmp_path))
    assert not failures, describe(failures)


def test_chart_checkov_skips_are_explained() -> None:
    lines = CHART_CONFIG.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*- CKV", line):
            assert lines[i - 1].strip().startswith("#"), f"unexplained skip: {line.strip()}"


def test_checkov_terraform(checkov: str) -> None:
    failures = scan(checkov, "-d", str(TERRAFORM), "--framework", "terraform")
    assert not failures, describe(failures)


def test_terraform_checkov_skips_are_explained() -> None:
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_AWS_\d+:", line), line
                reason = line.split(":", 2)[-1].strip()
                assert len(reason) >= 20, f"{path.name}: skip without a reason: {line.strip()}"


@pytest.mark.parametrize("path", [ROOT / "Dockerfile"], ids=["Dockerfile"])
def test_checkov_dockerfile(checkov: str, path: Path) -> None:
    failures = scan(checkov, "-f", str(path), "--framework", "dockerfile")
    assert not failures, describe(failures)
