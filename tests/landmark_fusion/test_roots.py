"""roots.yaml: plain folders, {path, options} entries, relative paths, --sources selection."""
from __future__ import annotations

from pathlib import Path

import pytest

from landmark_fusion.roots import RootsError, default_roots_path, load_roots, select_sources


def test_forms_and_relative_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "roots.yaml").write_text(
        "300w: a\naflw:\n  path: b\n  options: {split: test}\nwflw: /nowhere\n")
    roots = load_roots(tmp_path / "roots.yaml")
    assert list(roots) == ["300w", "aflw", "wflw"]
    assert roots["300w"].path == (tmp_path / "a").resolve() and roots["300w"].options == {}
    assert roots["aflw"].options == {"split": "test"}
    assert [r.name for r in select_sources(roots, "aflw, 300w")] == ["aflw", "300w"]
    with pytest.raises(RootsError, match="does not exist"):
        select_sources(roots, "all")
    with pytest.raises(RootsError, match="not in the roots file"):
        select_sources(roots, "lfw74")


@pytest.mark.parametrize("text, message", [
    ("nosuch: a\n", "unknown database"), ("- a\n", "expected a mapping"),
    ("aflw: {options: {}}\n", "needs 'path'"), ("aflw: [\n", "not valid YAML")])
def test_bad_files(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(RootsError, match=message):
        load_roots(tmp_path / "r.yaml")


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("LANDMARK_FUSION_ROOTS", raising=False)
    assert default_roots_path() == Path("roots.yaml")
    monkeypatch.setenv("LANDMARK_FUSION_ROOTS", str(tmp_path / "x.yaml"))
    assert default_roots_path() == tmp_path / "x.yaml"
    with pytest.raises(RootsError, match="not found"):
        load_roots()
