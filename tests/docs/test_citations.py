"""Citations of the project's pages stay valid, and the repository cites nothing outside itself.

Code comments, YAML comments and docs cite facts as ``docs/<page>.md §N`` (within ``docs/`` also
``<page>.md §N``), with N a section number of the page (``§1.2``, ``§2-§5``, ``§1.1, §4``) or the
first word of a heading (``§Reading``). These tests check that every such citation names a page
that exists and a heading that exists in it, and that nothing outside ``tests/`` and ``bench/``
points at a folder a newcomer with only the repository cannot open.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

#: folders whose text files are checked (plus every file at the top of the repository)
SCANNED_DIRS = ("landmark_fusion", "trainer", "correspondences", "docs", "tests", "bench", ".ci")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".cfg", ".sh", ".json", ""}

#: a page name, then one or more section tokens joined by ",", "and", "-" or "–"
CITATION = re.compile(
    r"(?<![\w./-])(?P<docs>docs/)?(?P<page>[\w-]+)\.md"
    r"(?P<sections>(?:\s*(?:,|\band\b|[-–])?\s*§(?:\d+(?:\.\d+)*|[A-Z][\w-]*))+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*|[A-Z][\w-]*)")
HEADING = re.compile(r"^#{1,6}\s+(?P<number>\d+(?:\.\d+)*)?\.?\s*(?P<title>.*?)\s*$")
#: "§N" stands for "a section number" where a page explains how it is cited
PLACEHOLDERS = {"N"}

#: references to material outside the repository
OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w.-])shared/(?:samples|models|research|paper)\b"
                     r"|\bresearch/|\bresearch notes?\b", re.I)


def _text_files() -> list[Path]:
    files = [p for p in REPO.iterdir() if p.is_file()]
    for name in SCANNED_DIRS:
        files += [p for p in (REPO / name).rglob("*") if p.is_file()]
    return sorted(p for p in files if p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _headings(page: Path) -> tuple[set[str], list[str]]:
    """Section numbers and heading titles of a markdown page (headings inside code fences skipped)."""
    numbers: set[str] = set()
    titles: list[str] = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match and line.startswith("#"):
            if match.group("number"):
                numbers.add(match.group("number"))
            titles.append(match.group("title"))
    return numbers, titles


def _citations() -> list[tuple[str, int, str, Path | None, list[str]]]:
    """(file, line, cited text, page path or None when written without docs/ outside docs, sections)."""
    found = []
    for path in _text_files():
        text = _read(path)
        if text is None:
            continue
        in_docs = path.parent == DOCS
        for match in CITATION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            page = match.group("page") + ".md"
            target = DOCS / page if (match.group("docs") or in_docs) else None
            sections = [s for s in SECTION.findall(match.group("sections")) if s not in PLACEHOLDERS]
            found.append((str(path.relative_to(REPO)), line, match.group(0), target, sections))
    return found


def test_citations_are_found() -> None:
    """The scan sees the citations the readers and docs are known to carry (guards the regex)."""
    cited = {(file, tuple(sections)) for file, _line, _text, _target, sections in _citations()}
    assert ("landmark_fusion/sources/w300.py", ("2",)) in cited
    assert ("trainer/protocols.py", ("1.2", "1.3")) in cited
    assert ("correspondences/schemes/ibug68_fixed.yaml", ("2", "5")) in cited
    assert any(file == "docs/databases.md" for file, _ in cited)


def test_every_citation_names_an_existing_page_and_section() -> None:
    problems = []
    headings: dict[Path, tuple[set[str], list[str]]] = {}
    for file, line, text, target, sections in _citations():
        where = f"{file}:{line}: {' '.join(text.split())!r}"
        if target is None:
            problems.append(f"{where}: outside docs/ write the page as docs/<page>.md")
            continue
        if not target.is_file():
            problems.append(f"{where}: no page {target.relative_to(REPO)}")
            continue
        if target not in headings:
            headings[target] = _headings(target)
        numbers, titles = headings[target]
        for section in sections:
            if section[0].isdigit():
                ok = section in numbers
            else:
                ok = any(title.startswith(section) for title in titles)
            if not ok:
                problems.append(f"{where}: {target.relative_to(REPO)} has no section §{section}")
    assert not problems, "\n".join(problems)


def test_every_docs_page_reference_exists() -> None:
    problems = []
    for path in _text_files():
        text = _read(path)
        if text is None:
            continue
        for match in re.finditer(r"(?<![\w.-])docs/([\w-]+\.md)", text):
            if not (DOCS / match.group(1)).is_file():
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(REPO)}:{line}: no page docs/{match.group(1)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", ["formats.md", "model-formats.md"])
def test_format_pages_are_in_the_readme(page: str) -> None:
    assert f"(docs/{page})" in (REPO / "README.md").read_text(encoding="utf-8")


def test_nothing_outside_tests_and_bench_points_outside_the_repository() -> None:
    problems = []
    for path in _text_files():
        relative = path.relative_to(REPO)
        if relative.parts[0] in ("tests", "bench"):
            continue
        text = _read(path)
        if text is None:
            continue
        for match in OUTSIDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{relative}:{line}: {match.group(0)!r}")
    assert not problems, "\n".join(problems)
