"""The README is the index: it lists every doc page and benchmark, and the docs' relative links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "CHANGELOG.md",
         *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:benchmarks|examples|scripts|docs|src|tests)/[\w./-]+)`")


def unlisted(readme: str, names: list[str], folder: str) -> list[str]:
    """The files of ``folder`` that ``readme`` never names as ``folder/name``."""
    return [name for name in names if f"{folder}/{name}" not in readme]


def dangling(page: Path) -> list[str]:
    """Relative links and backticked repository paths in ``page`` that name no file."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in LINK.finditer(text):
        target = match.group(1).split("#")[0]
        if target and not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
            found.append(match.group(1))
    for match in REPO_PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if "*" not in path and not (REPO / path).exists():
            found.append(path)
    return found


def test_readme_lists_every_doc_page_and_benchmark() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    pages = [p.name for p in sorted((REPO / "docs").glob("*.md"))]
    scripts = [p.name for p in sorted((REPO / "benchmarks").glob("*.py"))]
    assert pages and scripts
    assert unlisted(readme, pages, "docs") == [], "add the page to README.md's Documentation list"
    assert unlisted(readme, scripts, "benchmarks") == [], "add the script to README.md's Benchmarks table"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    assert dangling(page) == []


def test_checks_catch_a_missing_entry_and_a_dangling_link(tmp_path: Path) -> None:
    assert unlisted("see docs/a.md", ["a.md", "b.md"], "docs") == ["b.md"]
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("")
    page.write_text("[ok](there.md#part) [web](https://x.org) [gone](missing.md) `benchmarks/nope.py`\n")
    assert dangling(page) == ["missing.md", "benchmarks/nope.py"]
