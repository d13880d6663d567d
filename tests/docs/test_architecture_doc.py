"""docs/architecture.md "Module map" gives every module of the project one line saying its job: each
``.py`` file of ``landmark_fusion/``, ``trainer/``, ``bench/``, ``correspondences/`` and the top level
appears in exactly one row, and every row names a module that exists."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
PACKAGES = ("landmark_fusion", "trainer", "bench", "correspondences")
#: A row of the map: | `path/to/module.py` | its job |
ROW = re.compile(r"^\| `(?P<path>[\w/]+\.py)` \| (?P<job>[^|]*\S[^|]*) \|$")


def project_modules() -> set[str]:
    """Every module of the packages and the top level, as a path from the repository root."""
    found = {path.name for path in REPO.glob("*.py")}
    for package in PACKAGES:
        found |= {path.relative_to(REPO).as_posix() for path in (REPO / package).rglob("*.py")}
    return found


def map_rows() -> list[str]:
    """The module path of each row of the doc's module map, in order (repeats kept)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Module map\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert all(rows), "a row of the module map is not | `module.py` | job |"
    return [row["path"] for row in rows if row]


def test_every_module_has_one_line_in_the_map() -> None:
    listed = map_rows()
    repeated = sorted({path for path in listed if listed.count(path) > 1})
    assert not repeated, f"listed more than once in docs/architecture.md: {repeated}"
    missing = sorted(project_modules() - set(listed))
    assert not missing, f"modules without a line in docs/architecture.md's module map: {missing}"
    stale = sorted(set(listed) - project_modules())
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_the_map_is_read_as_it_is_written() -> None:
    """The row parser itself: a row gives its path; a row without a job, or with no path, does not."""
    assert ROW.match("| `trainer/loss.py` | Eq. 1 |")["path"] == "trainer/loss.py"
    assert ROW.match("| `trainer/loss.py` |  |") is None
    assert ROW.match("| trainer/loss.py | Eq. 1 |") is None
    assert "cli.py" in project_modules() and "landmark_fusion/build/run.py" in project_modules()
