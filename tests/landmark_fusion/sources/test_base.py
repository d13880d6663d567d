"""Rules every reader shares: root-confined paths and landmark checks."""
from __future__ import annotations

import os

import numpy as np
import pytest

from landmark_fusion.sources.base import SourceError, check_points, safe_join


@pytest.fixture()
def root(tmp_path):
    """``db/`` with a file, a sub-folder, and links pointing inside and outside it."""
    db = tmp_path / "db"
    (db / "sub").mkdir(parents=True)
    (db / "sub" / "face.jpg").write_bytes(b"x")
    (tmp_path / "secret.jpg").write_bytes(b"s")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "face.jpg").write_bytes(b"o")
    os.symlink(tmp_path / "secret.jpg", db / "sub" / "file_link.jpg")
    os.symlink(tmp_path / "outside", db / "dir_link")
    os.symlink(db / "sub" / "face.jpg", db / "inner_link.jpg")
    return db


def _reason(root, relative) -> str | None:
    try:
        safe_join(root, relative)
    except SourceError as error:
        assert str(relative) in error.detail
        return error.reason
    return None


def test_paths_inside_the_root_resolve(root):
    assert safe_join(root, "sub/face.jpg") == (root / "sub" / "face.jpg").resolve()
    assert safe_join(root, "sub/./face.jpg") == (root / "sub" / "face.jpg").resolve()
    assert safe_join(root, "sub/../sub/face.jpg") == (root / "sub" / "face.jpg").resolve()
    assert safe_join(root, "inner_link.jpg") == (root / "sub" / "face.jpg").resolve()
    assert safe_join(root, "sub/missing.jpg") == (root / "sub" / "missing.jpg").resolve()


@pytest.mark.parametrize("relative", ["../secret.jpg", "sub/../../secret.jpg", "sub/file_link.jpg",
                                      "dir_link/face.jpg", "..", "sub/../.."])
def test_paths_leaving_the_root_are_refused(root, relative):
    assert _reason(root, relative) == "path_outside_root"


def test_absolute_paths_are_refused(root, tmp_path):
    assert _reason(root, str(tmp_path / "secret.jpg")) == "path_outside_root"


def test_a_sibling_folder_sharing_the_prefix_is_outside(root, tmp_path):
    (tmp_path / "db2").mkdir()
    assert _reason(root, "../db2/x.jpg") == "path_outside_root"


def test_check_points_reasons():
    points = np.array([[10.0, 20.0], [30.0, 40.0]])
    visible = np.array([True, True])
    check_points(points, visible, 2, "f.pts", image_size=(50, 50))
    with pytest.raises(SourceError) as info:
        check_points(points, visible, 3, "f.pts")
    assert info.value.reason == "wrong_point_count"
    with pytest.raises(SourceError) as info:
        check_points(np.array([[np.nan, 1.0], [2.0, 3.0]]), visible, 2, "f.pts")
    assert info.value.reason == "bad_coordinates"
    # a NaN on a point marked invisible is not looked at
    check_points(np.array([[np.nan, 1.0], [2.0, 3.0]]), np.array([False, True]), 2, "f.pts")
    with pytest.raises(SourceError) as info:
        check_points(points, np.array([False, False]), 2, "f.pts")
    assert info.value.reason == "no_visible_points"
    with pytest.raises(SourceError) as info:
        check_points(points * 10, visible, 2, "f.pts", image_size=(50, 50))  # 400 > 3 x 50
    assert info.value.reason == "bad_coordinates" and "50x50" in info.value.detail
    check_points(points * 3, visible, 2, "f.pts", image_size=(50, 50))  # 120 <= 3 x 50
