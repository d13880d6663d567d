"""roots.yaml: plain folders, {path, options, split} entries, relative paths, --sources selection,
and one clear message (exit 2 from the command) for every malformed file."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.roots import RootsError, default_roots_path, load_roots, select_sources


def test_forms_and_relative_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "roots.yaml").write_text(
        "300w: a\naflw:\n  path: b\n  options: {split: test}\n  split: val\nwflw: /nowhere\n")
    roots = load_roots(tmp_path / "roots.yaml")
    assert list(roots) == ["300w", "aflw", "wflw"]
    assert roots["300w"].path == (tmp_path / "a").resolve() and roots["300w"].options == {}
    assert roots["aflw"].options == {"split": "test"}
    assert roots["aflw"].split.default == "val" and roots["300w"].split is None
    assert [r.name for r in select_sources(roots, "aflw, 300w")] == ["aflw", "300w"]
    with pytest.raises(RootsError, match="does not exist"):
        select_sources(roots, "all")
    with pytest.raises(RootsError, match="not in the roots file"):
        select_sources(roots, "lfw74")


@pytest.mark.parametrize("text, message", [
    ("nosuch: a\n", "unknown database"), ("- a\n", "expected a mapping"),
    ("aflw: {options: {}}\n", "needs 'path'"), ("aflw: [\n", "not valid YAML"),
    ("", "an empty file"), ("# only a comment\n", "an empty file"),
    ("aflw: a\n300w: b\naflw: c\n", "key 'aflw' given twice"),
    ("1: a\n", "not a database name"), ("aflw: null\n", "folder must be a path string"),
    ("aflw: {path: a, colour: blue}\n", "'options' and 'split' only"),
    ("aflw: {path: a, options: [1]}\n", "'options' must be a mapping"),
    ("aflw: {path: a, options: {1: x}}\n", "option names must be words"),
    ("aflw: {path: a, split: 'te st'}\n", "split name"),
])
def test_bad_files(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(RootsError, match=message) as info:
        load_roots(tmp_path / "r.yaml")
    assert str(tmp_path / "r.yaml") in str(info.value)


def _build(roots, *extra):
    return CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(roots.parent / "o.h5"),
                                     "--workers", "0", "--no-progress", *extra])


def test_a_non_utf8_roots_file_is_exit_2_naming_the_file(tmp_path):
    roots = tmp_path / "roots.yaml"
    roots.write_bytes("300w: a\naflw: b\u00e4\n".encode("latin-1"))
    with pytest.raises(RootsError, match="not UTF-8") as info:
        load_roots(roots)
    assert str(roots) in str(info.value) and "line 2" in str(info.value)
    result = _build(roots)
    assert result.exit_code == 2 and str(roots) in result.output and "not UTF-8" in result.output
    assert "Traceback" not in result.output


def test_an_entry_that_is_a_file_says_so(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    roots = tmp_path / "roots.yaml"
    roots.write_text("300w: a.txt\n")
    with pytest.raises(RootsError, match="is a file, expected a folder"):
        select_sources(load_roots(roots), "all")
    result = _build(roots)
    assert result.exit_code == 2 and "is a file, expected a folder" in result.output


def test_a_folder_given_as_roots_file(tmp_path):
    with pytest.raises(RootsError, match="is a folder, expected a YAML file"):
        load_roots(tmp_path)


def test_options_are_checked_when_a_database_is_selected(tmp_path):
    (tmp_path / "w").mkdir()
    roots = tmp_path / "roots.yaml"
    roots.write_text("wflw:\n  path: w\n  options: {list: main}\n")
    with pytest.raises(RootsError, match="unknown option 'list'; the wflw reader takes lists, "):
        select_sources(load_roots(roots), "all")
    roots.write_text("wflw:\n  path: w\n  options: {lists: mian}\n")
    with pytest.raises(RootsError, match="wflw: options: lists must be auto, main or attribute"):
        select_sources(load_roots(roots), "all")
    result = _build(roots)
    assert result.exit_code == 2 and str(roots) in result.output


def test_a_root_of_unknown_layout_is_named_and_the_build_goes_on(tmp_path, samples_dir):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "x.jpg").write_bytes(b"x")
    roots = tmp_path / "roots.yaml"
    roots.write_text(f"300w_lp: photos\naflw2000_3d: {samples_dir / 'AFLW2000-3D'}\n")
    result = _build(roots)
    assert result.exit_code == 0, result.output
    report = (tmp_path / "o.h5.report.json").read_text()
    assert '"wrong_layout": 1' in report and "not a 300w_lp root: expected" in report
    assert "Traceback" not in result.output


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("LANDMARK_FUSION_ROOTS", raising=False)
    assert default_roots_path() == Path("roots.yaml")
    monkeypatch.setenv("LANDMARK_FUSION_ROOTS", str(tmp_path / "x.yaml"))
    assert default_roots_path() == tmp_path / "x.yaml"
    with pytest.raises(RootsError, match="not found"):
        load_roots()
