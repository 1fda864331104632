"""The docs in the repository stay true to the code that cites them: every ``contract §…`` in
src/ and tests/ names a section of docs/contract.md, every relative link in the docs and the
README resolves, and the decisions index lists every decision page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONTRACT = DOCS / "contract.md"

# "§3.10", "§3.8–3.9", "§7"; a citation of an RFC section ("RFC 9700 §4.1") is not ours.
SECTION = r"\d+(?:\.\d+)?"
CITATION = re.compile(rf"(?<!RFC )(?<!RFC \d{{4}} )§({SECTION})(?:[–-]({SECTION}))?")
HEADING = re.compile(rf"^#{{2,3}} ({SECTION})\.? ", re.MULTILINE)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def contract_sections() -> set[str]:
    return set(HEADING.findall(CONTRACT.read_text()))


def citations() -> list[tuple[str, str]]:
    """(where, section) for every contract section cited in src/ and tests/."""
    found = []
    for folder in ("src", "tests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".yaml", ".md"} or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in CITATION.finditer(line):
                    where = f"{path.relative_to(ROOT)}:{number}"
                    found += [(where, section) for section in match.groups() if section]
    return found


def test_contract_sections_are_numbered_like_the_client_contract() -> None:
    sections = contract_sections()
    expected = {"1", "2", "3", "4", "5", "6", "7"}
    expected |= {f"1.{i}" for i in range(1, 6)} | {f"3.{i}" for i in range(1, 13)}
    assert sections == expected


def test_every_contract_citation_names_a_section() -> None:
    cited = citations()
    assert len(cited) > 25  # the code does cite the contract
    sections = contract_sections()
    dangling = [f"{where}: §{section}" for where, section in cited if section not in sections]
    assert dangling == []


def test_relative_links_resolve() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_decisions_index_lists_every_page() -> None:
    index = (DOCS / "decisions" / "README.md").read_text()
    pages = {p.name for p in (DOCS / "decisions").glob("*.md") if p.name != "README.md"}
    listed = set(LINK.findall(index))
    assert pages - listed == set(), "add them to docs/decisions/README.md"
