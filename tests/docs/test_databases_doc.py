"""docs/databases.md stays true to the readers: sections, options, defaults, rejection reasons, the example.

The guide keeps two machine-readable tables between HTML comment markers and one YAML example;
these tests parse them and compare with the reader constructors (``inspect.signature``), the
shared reason list and the roots loader, so a renamed option or a new one cannot go unnoticed.
"""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import yaml

from landmark_fusion.roots import parse_roots
from landmark_fusion.sources import SOURCES, get_source
from landmark_fusion.sources.base import REASONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "databases.md"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _table(marker: str) -> list[list[str]]:
    """Body rows of the markdown table between ``<!-- marker:begin -->`` and ``:end``, cells stripped."""
    match = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", _doc(), re.S)
    assert match, f"{DOC}: no {marker} table"
    lines = [line.strip() for line in match.group(1).splitlines() if line.strip().startswith("|")]
    assert len(lines) > 2, f"{marker}: the table has no rows"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _code(cell: str) -> str:
    """The text of a cell that is one code span."""
    assert cell.startswith("`") and cell.endswith("`"), f"expected a code span, got {cell!r}"
    return cell[1:-1]


def _documented_options() -> dict[str, dict[str, object]]:
    """database -> {option: default value} from the options table."""
    options: dict[str, dict[str, object]] = {}
    for database, option, default, _meaning in _table("reader-options"):
        name = _code(option)
        entry = options.setdefault(_code(database), {})
        assert name not in entry, f"{database} {name} is listed twice"
        entry[name] = ast.literal_eval(_code(default))
    return options


def _parameters(database: str) -> dict[str, inspect.Parameter]:
    """Constructor keywords of a reader, without ``self`` and ``root``."""
    signature = inspect.signature(get_source(database).__init__)
    return {name: p for name, p in signature.parameters.items() if name not in ("self", "root")}


def test_every_database_has_its_section():
    text = _doc()
    missing = [name for name in SOURCES if f"\n## {name}\n" not in text]
    assert not missing, f"no '## NAME' section for {missing}"


def test_every_database_has_its_options_listed():
    documented = _documented_options()
    with_options = {name for name in SOURCES if _parameters(name)}
    assert set(documented) == with_options


@pytest.mark.parametrize("database", sorted(SOURCES))
def test_options_match_the_constructor(database):
    documented = _documented_options().get(database, {})
    parameters = _parameters(database)
    assert set(documented) <= set(parameters), (
        f"{database}: documented but not a constructor parameter: {sorted(set(documented) - set(parameters))}")
    assert set(parameters) <= set(documented), (
        f"{database}: constructor parameter missing from the doc: {sorted(set(parameters) - set(documented))}")
    for name, default in documented.items():
        assert parameters[name].default == default, (
            f"{database}.{name}: doc says default {default!r}, code has {parameters[name].default!r}")


def test_reasons_are_real_and_complete():
    rows = _table("rejection-reasons")
    documented = {_code(database): {_code(word.strip()) for word in reasons.split(",")}
                  for database, reasons in rows}
    assert set(documented) == set(SOURCES)
    for database, reasons in documented.items():
        module_text = Path(inspect.getfile(get_source(database))).read_text(encoding="utf-8")
        own = set(re.findall(r'SourceError\(\s*"([a-z_]+)"', module_text))
        unknown = {r for r in reasons if r not in REASONS}
        assert not unknown, f"{database}: {sorted(unknown)} are not reasons the readers use"
        assert own <= reasons, f"{database}: the reader raises {sorted(own - reasons)}, undocumented"
    text = _doc()  # each word of base.REASONS is explained in the table above the per-reader one
    for reason in REASONS:
        assert f"| `{reason}` |" in text, f"{reason} has no row in the reason table"


def test_example_roots_file_loads_and_every_reader_accepts_its_options(tmp_path):
    match = re.search(r"<!-- roots-example -->\n```yaml\n(.*?)```", _doc(), re.S)
    assert match, "no roots example"
    data = yaml.safe_load(match.group(1))
    roots = parse_roots(data, tmp_path, "docs/databases.md example")
    assert set(roots) == set(SOURCES)
    for name, root in roots.items():
        assert root.path.is_absolute()
        inspect.signature(get_source(name)).bind(root.path, **root.options)  # TypeError if unknown
    assert roots["aflw"].path == (tmp_path / "AFLW").resolve()  # relative to the roots file
