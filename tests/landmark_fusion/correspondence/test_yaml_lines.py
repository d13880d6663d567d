"""YAML with line numbers: keys, list items, key paths, repeated keys, unreadable files."""
from __future__ import annotations

from pathlib import Path

from landmark_fusion.correspondence.yaml_lines import line_at, line_of, read_yaml_with_lines, repeated_keys

TEXT = """# a comment
name: x
points:
  - {index: 0, name: a}
  - index: 1
    drop:
      rule: 2
  - plain
nested: {a: {b: 1}, a: 2}
"""


def _read(tmp_path: Path, text: str = TEXT, raw: bytes | None = None):
    path = tmp_path / "f.yaml"
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    return path, *read_yaml_with_lines(path)


def test_lines_of_keys_items_and_key_paths(tmp_path: Path) -> None:
    _, data, problem = _read(tmp_path)
    assert problem is None and data["points"][2] == "plain"
    assert line_of(data) == 2 and line_of(data, "points") == 3 and line_of(data["points"]) == 4
    assert line_of(data["points"], 2) == 8 and line_of(data["points"][1], "drop") == 6
    assert line_at(data, ("points", 1, "drop", "rule")) == 7
    assert line_at(data, ("points", 0, "name")) == 4
    assert line_at(data, ("points", 1, "missing")) == 5   # the deepest part that exists
    assert line_at(data, ("points", 9)) == 3
    assert line_at(data, ()) == 2 and line_of("plain") == 0


def test_repeated_keys_are_found_anywhere(tmp_path: Path) -> None:
    _, data, _ = _read(tmp_path)
    assert list(repeated_keys(data)) == [(("nested",), "a", 9)]
    assert data["nested"]["a"] == 2  # the later value counts, as in a plain load


def test_unreadable_files_are_problems_with_their_line(tmp_path: Path) -> None:
    path, data, problem = _read(tmp_path, raw=b"a: 1\nb: caf\xe9\n")
    assert data is None and problem.line == 2 and "not UTF-8 text (byte 0xe9 at offset 11)" in problem.message
    path, data, problem = _read(tmp_path, "a: 1\nb: [\n")
    assert data is None and problem.line == 3 and problem.message.startswith("YAML syntax error")
    data, problem = read_yaml_with_lines(tmp_path / "absent.yaml")
    assert data is None and problem.line == 0 and problem.message.startswith("cannot read")


def test_no_python_objects_are_built(tmp_path: Path) -> None:
    _, data, problem = _read(tmp_path, "a: !!python/object/apply:os.system ['true']\n")
    assert data is None and "YAML syntax error" in problem.message
