"""Folder walks: the user's links followed, loops and unreadable folders named, never skipped."""
from __future__ import annotations

import os

import pytest

from landmark_fusion.sources import layout
from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.layout import expect_layout, passes_rejections, walk_files, wrong_layout


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")


def _split(results):
    results = list(results)
    return ([r for r in results if not isinstance(r, Rejected)],
            [(r.sample_id, r.reason) for r in results if isinstance(r, Rejected)])


def test_linked_folders_and_file_links_are_walked(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    _touch(elsewhere / "deep" / "b.pts")
    _touch(tmp_path / "c.pts")
    root = tmp_path / "db"
    _touch(root / "a.pts")
    os.symlink(elsewhere, root / "linked")
    os.symlink(tmp_path / "c.pts", root / "file_link.pts")
    files, rejected = _split(walk_files(root, (".pts",), "300w"))
    assert files == ["a.pts", "file_link.pts", "linked/deep/b.pts"] and rejected == []


def test_a_link_loop_is_named_once_and_walked_once(tmp_path):
    root = tmp_path / "db"
    _touch(root / "sub" / "a.pts")
    os.symlink(root, root / "sub" / "back_to_root")
    os.symlink(root / "sub", root / "twin")  # a second way to the same files
    files, rejected = _split(walk_files(root, (".pts",), "300w"))
    assert files == ["sub/a.pts"]
    assert rejected == [("twin/", "link_loop"), ("sub/back_to_root/", "link_loop")]
    detail = [r for r in walk_files(root, (".pts",), "300w") if isinstance(r, Rejected)][1].detail
    assert "already read" in detail and str(root) in detail


def test_an_unreadable_folder_is_named(tmp_path, monkeypatch):
    root = tmp_path / "db"
    _touch(root / "good" / "a.pts")
    _touch(root / "locked" / "b.pts")
    real = layout._sorted_entries

    def sorted_entries(folder):
        if os.fspath(folder).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(folder)

    monkeypatch.setattr(layout, "_sorted_entries", sorted_entries)
    files, rejected = _split(walk_files(root, (".pts",), "300w"))
    assert files == ["good/a.pts"] and rejected == [("locked/", "unreadable_folder")]
    (record,) = [r for r in walk_files(root, (".pts",), "300w") if isinstance(r, Rejected)]
    assert "Permission denied" in record.detail and record.source == "300w"


def test_a_missing_start_folder_is_named(tmp_path):
    (record,) = walk_files(tmp_path, (".pts",), "300w", folder=tmp_path / "nope")
    assert record.reason == "unreadable_folder" and record.sample_id == "nope/"


def test_annotations_differing_in_suffix_case_are_one_sample(tmp_path):
    _touch(tmp_path / "a.pts")
    _touch(tmp_path / "a.PTS")
    _touch(tmp_path / "b.pts")
    files, rejected = _split(walk_files(tmp_path, (".pts",), "300w"))
    assert files == ["a.PTS", "b.pts"] and rejected == [("a.pts", "duplicate_sample")]


def test_non_recursive_walk_and_skipped_folders(tmp_path):
    _touch(tmp_path / "a.mat")
    _touch(tmp_path / "Code" / "b.mat")
    _touch(tmp_path / "sub" / "c.mat")
    assert list(walk_files(tmp_path, (".mat",), "x", recursive=False)) == ["a.mat"]
    assert list(walk_files(tmp_path, (".mat",), "x", skip_dirs=("Code",))) == ["a.mat", "sub/c.mat"]


def test_expect_layout_names_the_expected_layout_and_what_is_there(tmp_path):
    _touch(tmp_path / "readme.txt")
    (tmp_path / "photos").mkdir()
    (record,) = expect_layout("300w", tmp_path, ".pts files", iter(()))
    assert record.reason == "wrong_layout" and record.sample_id == "<root>"
    assert ".pts files" in record.detail and "photos/" in record.detail and "readme.txt" in record.detail
    assert list(expect_layout("300w", tmp_path, ".pts files", iter(["a.pts"]))) == ["a.pts"]
    assert "empty" in wrong_layout("300w", tmp_path / "photos", "x").detail


def test_passes_rejections_hands_a_record_back():
    class Reader:
        @passes_rejections
        def read(self, item):
            return [RawFace]  # would fail on a record

    record = Rejected("300w", "x/", "link_loop", "d")
    assert Reader().read(record) == [record]
    assert Reader().read("a.pts") == [RawFace]


@pytest.mark.parametrize("name", ["a.pts", "sub/b.pts"])
def test_image_id_beside_falls_back_to_the_annotation(tmp_path, name):
    _touch(tmp_path / name)
    assert layout.image_id_beside(tmp_path, name) == name
    _touch(tmp_path / name.replace(".pts", ".png"))
    assert layout.image_id_beside(tmp_path, name) == name.replace(".pts", ".png")
