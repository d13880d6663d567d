"""Typed reading: pydantic's errors become FILE:LINE: key path: what is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

from landmark_fusion.correspondence.file_schema import SchemeFile, TableFile, VocabularyFile
from landmark_fusion.correspondence.typed_reading import read_typed

SCHEME = """name: s
num_points: 2
expected_kept: 1
points:
  - {index: 0, name: chin}
  - {index: 1, drop: {rule: 3, reason: r}, mirror_index: 1}
"""


def _messages(tmp_path: Path, text: str, model=SchemeFile) -> list[str]:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    located, problems = read_typed(path, model)
    assert (located is None) == any("given twice" not in p.message for p in problems)
    return [str(p).removeprefix(f"{path}:").lstrip() for p in problems]


def test_a_valid_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(SCHEME)
    located, problems = read_typed(path, SchemeFile)
    assert problems == [] and located.model.points[1].drop.rule == 3
    assert located.line("points", 1, "drop", "rule") == 6 and located.line("expected_kept") == 3
    assert str(located.problem(("points", 0), "x")) == f"{path}:5: x"


@pytest.mark.parametrize("old, new, message", [
    ("num_points: 2", "num_points: '2'", "2: num_points: must be an integer, not '2'"),
    ("num_points: 2", "num_points: 2.0", "2: num_points: must be an integer, not 2.0"),
    ("num_points: 2", "num_points: -2", "2: num_points: must be positive, not -2"),
    ("name: s", "name: S", "1: name: names are lower-case words joined by '_', not 'S'"),
    ("name: s", "nmae: s", ("1: unknown key 'nmae' (allowed: databases, description, expected_kept, fixed, "
                           "name, notes, num_points, paper_kept, points)")),
    ("name: s\n", "", "1: missing key 'name': the scheme name, equal to the file name"),
    ("{index: 0, name: chin}", "[0, chin]", "5: points[0]: must be a mapping, not a list"),
    ("{index: 0, name: chin}", "{index: 0, name: chin, index: 0}", "5: points[0] (chin): key 'index' given twice"),
    ("{rule: 3, reason: r}", "{rule: 3}", "6: points[1].drop: missing key 'reason'"),
    ("{rule: 3, reason: r}", "{rule: true, reason: r}", "6: points[1].drop.rule: must be an integer, not true"),
    ("mirror_index: 1}", "mirror_index: -1}", "6: points[1].mirror_index: must be non-negative, not -1"),
])
def test_pydantic_errors_in_the_projects_words(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SCHEME
    assert any(m.startswith(message) for m in _messages(tmp_path, SCHEME.replace(old, new)))


def test_an_entrys_own_check_names_the_key_it_is_about(tmp_path: Path) -> None:
    text = SCHEME.replace("{index: 0, name: chin}", "{index: 0,\n     name: chin,\n     mirror_index: 1}")
    assert _messages(tmp_path, text) == [("7: points[0] (chin): a kept point mirrors through the vocabulary; "
                                         "remove its 'mirror_index'")]


def test_problems_come_in_file_order(tmp_path: Path) -> None:
    text = SCHEME.replace("num_points: 2", "num_points: x").replace("rule: 3", "rule: 9").replace("name: s", "name: S")
    assert [m.split(":")[0] for m in _messages(tmp_path, text)] == ["1", "2", "6"]


def test_top_level_and_key_types(tmp_path: Path) -> None:
    assert _messages(tmp_path, "# only a comment\n") == ["the file is empty"]
    expected = ["1: expected a mapping at the top level (required: landmarks)"]
    assert _messages(tmp_path, "- 1\n", VocabularyFile) == expected
    assert _messages(tmp_path, "- 1\n", TableFile) == [
        ("1: expected a mapping at the top level (keys: model, description, model_names, num_vertices, contours, "
        "landmarks)")]
    assert _messages(tmp_path, "landmarks:\n  7: {vertex: 1, source: s}\n", TableFile) == [
        "2: landmarks: key 7: must be text, not 7"]
