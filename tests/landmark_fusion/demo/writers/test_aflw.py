"""AFLW writers: the sqlite schema and the 3DDFA arrays as the real files have them, read back."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from landmark_fusion.demo.writers.aflw import marked_rows, write_aflw_3ddfa, write_aflw_sqlite
from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.sources.aflw import AFLWSource, unmark_points
from landmark_fusion.sources.base import RawFace


def _faces():
    rng = np.random.default_rng(6)
    faces = []
    for n in range(3):
        visible = rng.random(21) > 0.2
        faces.append(FixtureFace(image=rng.integers(0, 255, size=(150, 200, 3), dtype=np.uint8),
                                 points=rng.uniform(10, 140, size=(21, 2)), visible=visible,
                                 name=f"image{7 - n:05d}", split="test", yaw=12.5 * n - 20))
    return faces


def test_sqlite_schema(tmp_path):
    write_aflw_sqlite(tmp_path, _faces())
    with sqlite3.connect(tmp_path / "aflw.sqlite") as db:
        tables = {name: [c[1] for c in db.execute(f"PRAGMA table_info({name})")]
                  for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables["Faces"] == ["face_id", "file_id", "db_id"]
    assert tables["FaceImages"] == ["image_id", "db_id", "file_id", "filepath", "bw", "width", "height"]
    assert tables["FeatureCoords"] == ["face_id", "feature_id", "x", "y", "annot_type_id"]
    assert tables["FaceRect"] == ["face_id", "x", "y", "w", "h", "annot_type_id"]
    assert tables["FacePose"] == ["face_id", "roll", "pitch", "yaw", "annot_type_id"]
    assert (tmp_path / "flickr/0/image00007.jpg").is_file()


def test_sqlite_round_trip(tmp_path):
    faces = _faces()
    write_aflw_sqlite(tmp_path, faces)
    source = AFLWSource(tmp_path)
    read = [r for item in source.items() for r in source.read(item)]
    assert all(isinstance(r, RawFace) for r in read)
    for face, got in zip(faces, read, strict=True):
        assert got.sample_id == f"flickr/0/{face.name}.jpg"
        np.testing.assert_array_equal(got.visible, face.visibility())
        np.testing.assert_allclose(got.points[got.visible], face.points[face.visibility()], atol=1e-12)
        assert got.yaw == pytest.approx(face.yaw, abs=1e-9)


def test_3ddfa_arrays_match_the_real_ones(tmp_path, samples_dir):
    write_aflw_3ddfa(tmp_path, _faces())
    for name in ("AFLW_GT_pts21.npy", "AFLW_GT_crop_roi_box.npy", "AFLW_GT_crop_yaws.npy"):
        mine = np.load(tmp_path / "test.configs" / name)
        real = np.load(samples_dir / "AFLW/test.configs" / name, mmap_mode="r")
        assert mine.dtype == real.dtype and mine.shape[1:] == real.shape[1:]
    pts = np.load(tmp_path / "test.configs/AFLW_GT_pts21.npy")
    assert {tuple(p) for p in pts.transpose(0, 2, 1).reshape(-1, 2).tolist() if p[0] == -1} == {(-1.0, 452.0)}
    listing = (tmp_path / "test.data/AFLW_GT_crop.list").read_text()
    assert listing == "image00005.jpg\nimage00006.jpg\nimage00007.jpg\n"


def test_3ddfa_round_trip(tmp_path):
    import cv2

    faces = _faces()
    write_aflw_3ddfa(tmp_path, faces)
    source = AFLWSource(tmp_path)
    assert source.form == "3ddfa"
    read = {r.sample_id: r for item in source.items() for r in source.read(item)}
    for face in faces:
        got = read[f"test.data/AFLW_GT_crop/{face.name}.jpg"]
        assert isinstance(got, RawFace)
        assert cv2.imread(str(got.image_path)).shape == (120, 120, 3)
        expected = face.points * [120 / 200, 120 / 150]  # the image is resized to the 120x120 crop
        np.testing.assert_array_equal(got.visible, face.visibility())
        np.testing.assert_allclose(got.points[got.visible], expected[face.visibility()], atol=1e-4)
        assert got.yaw == pytest.approx(face.yaw, abs=1e-5)


def test_missing_marker_both_ways():
    points = np.array([[0.0, 0.0], [10.5, 20.25], [3.0, 4.0]])
    rows = marked_rows(points, [True, False, True])
    np.testing.assert_array_equal(rows, [[1.0, -1.0, 4.0], [1.0, 452.0, 5.0]])  # 1-based, (-1, 452) marker
    back, visible = unmark_points(rows.T)
    assert visible.tolist() == [True, False, True]
    np.testing.assert_array_equal(back[[0, 2]], points[[0, 2]])
    assert np.isnan(back[1]).all()
