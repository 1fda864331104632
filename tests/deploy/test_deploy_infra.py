"""Terraform and Ansible, as far as they can be checked without AWS or hosts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from deploy_support import ANSIBLE, TERRAFORM, check, missing_tool, venv_tool

# --- Terraform ------------------------------------------------------------------------------
# `terraform validate` needs the providers, which cannot be downloaded here: fmt, the
# documentation rules and the variable wiring below are what can be checked offline.


def terraform() -> str:
    found = shutil.which("terraform")
    if not found:
        missing_tool("terraform", "install terraform >= 1.11")
    return str(found)


def blocks(text: str, kind: str) -> dict[str, str]:
    """Bodies of the top-level `kind "name" { ... }` blocks of one .tf file."""
    found = {}
    for match in re.finditer(rf'^{kind} "([\w-]+)" \{{', text, re.MULTILINE):
        depth, start = 0, match.end() - 1
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                found[match.group(1)] = text[start + 1 : end]
                break
    return found


def tf_dirs() -> list[Path]:
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})


def read_dir(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.glob("*.tf")))


def test_terraform_fmt() -> None:
    check([terraform(), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)])


@pytest.mark.parametrize("directory", tf_dirs(), ids=lambda d: str(d.relative_to(TERRAFORM)))
def test_terraform_variables_and_outputs_are_documented(directory: Path) -> None:
    text = read_dir(directory)
    for kind in ("variable", "output"):
        for name, body in blocks(text, kind).items():
            assert re.search(r"^\s*description\s*=", body, re.MULTILINE), f"{kind} {name}"
    declared = set(blocks(text, "variable"))
    used = set(re.findall(r"\bvar\.(\w+)", text))
    assert used <= declared, f"undeclared variables in {directory.name}: {used - declared}"


@pytest.mark.parametrize("directory", tf_dirs(), ids=lambda d: str(d.relative_to(TERRAFORM)))
def test_terraform_module_calls_match_module_variables(directory: Path) -> None:
    for name, body in blocks(read_dir(directory), "module").items():
        source = re.search(r'source\s*=\s*"([^"]+)"', body)
        assert source, name
        module_dir = (directory / source.group(1)).resolve()
        assert module_dir.is_dir(), f"module {name}: {module_dir}"
        variables = blocks(read_dir(module_dir), "variable")
        # Arguments at the top level of the module block.
        depth, args = 0, set()
        for line in body.splitlines():
            if depth == 0 and (m := re.match(r"\s*(\w+)\s*=", line)):
                args.add(m.group(1))
            depth += line.count("{") - line.count("}")
        args -= {"source", "providers", "version", "count", "for_each", "depends_on"}
        assert args <= set(variables), f"module {name}: unknown {args - set(variables)}"
        required = {v for v, b in variables.items() if not re.search(r"^\s*default\s*=", b, re.M)}
        assert required <= args, f"module {name}: missing {required - args}"


def test_terraform_envs_pin_versions_and_state() -> None:
    for env in ("dev", "prod"):
        text = read_dir(TERRAFORM / "envs" / env)
        assert re.search(r'required_version\s*=\s*">= 1\.11', text)
        assert re.search(r'version\s*=\s*"~> \d+\.\d+"', text)
        assert f'key          = "{env}/terraform.tfstate"' in text


# --- Ansible ----------------------------------------------------------------------------------


def ansible_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
    }


def test_ansible_playbook_syntax(tmp_path: Path) -> None:
    check(
        [
            venv_tool("ansible-playbook"),
            "-i",
            str(ANSIBLE / "inventory" / "example.ini"),
            "site.yml",
            "--syntax-check",
        ],
        cwd=ANSIBLE,
        env=ansible_env(tmp_path),
    )


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    out = check(
        [venv_tool("ansible-lint"), "--offline", "--profile", "production", "--strict", "site.yml"],
        cwd=ANSIBLE,
        env=ansible_env(tmp_path),
    )
    assert "Failed" not in out


def test_ansible_pins_versions() -> None:
    group_vars = (ANSIBLE / "group_vars" / "all.yml").read_text()
    for key in ("kubernetes_version", "containerd_version", "calico_version"):
        assert re.search(rf'^{key}: "v?\d+\.\d+\.\d+"$', group_vars, re.MULTILINE), key
    argocd = (ANSIBLE / "roles" / "argocd" / "defaults" / "main.yml").read_text()
    assert re.search(r"^argocd_version: v\d+\.\d+\.\d+$", argocd, re.MULTILINE)
