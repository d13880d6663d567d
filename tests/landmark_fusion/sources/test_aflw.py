"""AFLW reader: the real 3DDFA test arrays and crops, and sqlite databases made by the writer."""
from __future__ import annotations

import math
import os
import pickle
import sqlite3

import numpy as np
import pytest

from landmark_fusion.demo.writers.aflw import write_aflw_sqlite
from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.sources.aflw import AFLWSource, CropItem, detect_form
from landmark_fusion.sources.aflw2000_3d import AFLW2000Source
from landmark_fusion.sources.base import RawFace, Rejected

CROPS = ["image00002", "image00004", "image00050", "image04476", "image22568", "image45336", "image71361"]


@pytest.fixture(scope="module")
def root(samples_dir):
    return samples_dir / "AFLW"


@pytest.fixture(scope="module")
def read_all(root):
    """Every item's name; read for the rows with a crop and for every 1000th row."""
    source = AFLWSource(root)
    wanted = {f"{c}.jpg" for c in CROPS}
    return {item.name: (source.read(item)[0] if item.name in wanted or item.row % 1000 == 0 else None)
            for item in source.items()}


def test_form_detection(root, tmp_path):
    assert detect_form(root) == "3ddfa"
    assert detect_form(tmp_path) is None
    (tmp_path / "notes.txt").write_text("x")
    (rejected,) = AFLWSource(tmp_path).items()  # one message naming both layouts, no exception
    assert isinstance(rejected, Rejected) and rejected.reason == "wrong_layout"
    assert "aflw.sqlite" in rejected.detail and "AFLW_GT_crop.list" in rejected.detail
    assert "notes.txt" in rejected.detail  # what the root holds instead
    assert AFLWSource(tmp_path).read(rejected) == [rejected]
    with pytest.raises(ValueError):
        AFLWSource(root, form="csv")


def test_every_list_row_is_an_item(root, read_all):
    names = (root / "test.data/AFLW_GT_crop.list").read_text().split()
    assert list(read_all) == names and len(names) == 21080
    faces = {n: r for n, r in read_all.items() if isinstance(r, RawFace)}
    assert sorted(faces) == [f"{c}.jpg" for c in CROPS]
    missing = [r for r in read_all.values() if isinstance(r, Rejected)]
    assert {r.reason for r in missing} == {"missing_image"} and len(missing) == sum(
        1 for n, r in read_all.items() if r is not None and n not in faces)
    assert "AFLW_GT_crop/image71361.jpg" not in missing[0].detail and "AFLW_GT_crop" in missing[0].detail


def test_crop_points_recomputed_from_the_arrays(root, read_all):
    names = (root / "test.data/AFLW_GT_crop.list").read_text().split()
    pts = np.load(root / "test.configs/AFLW_GT_pts21.npy")
    roi = np.load(root / "test.configs/AFLW_GT_crop_roi_box.npy")
    yaws = np.load(root / "test.configs/AFLW_GT_crop_yaws.npy")
    for crop in CROPS:
        face = read_all[f"{crop}.jpg"]
        row = names.index(f"{crop}.jpg")
        x, y = pts[row].astype(np.float64)
        sx, sy, ex, ey = roi[row].astype(np.float64)
        visible = x != -1
        np.testing.assert_array_equal(face.visible, visible)
        u = (x - 1.0 - sx) * 120.0 / (ex - sx)
        v = (y - 1.0 - sy) * 120.0 / (ey - sy)
        np.testing.assert_allclose(face.points[visible], np.column_stack([u, v])[visible], atol=1e-9)
        assert np.isnan(face.points[~visible]).all()
        np.testing.assert_allclose(face.extra["frame_points"][visible],
                                   np.column_stack([x, y])[visible] - 1.0, atol=1e-9)
        assert face.yaw == float(yaws[row])
        assert face.sample_id == f"test.data/AFLW_GT_crop/{crop}.jpg" and face.split == "test"
        assert face.scheme == "aflw21" and face.box.tolist() == [0, 0, 120, 120]
    assert read_all["image71361.jpg"].yaw == pytest.approx(89.9, abs=0.1)  # docs/formats.md §1.2
    # row 0: point (145.50227, 179.40117), roi [81, 120, 390, 429] -> ((x-1-81)*120/309, (y-1-120)*120/309)
    assert read_all["image00002.jpg"].points[0].tolist() == pytest.approx([24.6610771, 22.6800656], abs=1e-5)


def test_first_2000_rows_share_the_aflw2000_3d_frame(read_all, samples_dir):
    (aflw2000,) = AFLW2000Source(samples_dir / "AFLW2000-3D").read("AFLW2000/image00050.mat")
    face = read_all["image00050.jpg"]
    both = face.visible & aflw2000.extra["aflw21_visible"]
    np.testing.assert_allclose(face.extra["frame_points"][both], aflw2000.extra["aflw21_points"][both], atol=1e-4)


def test_list_longer_than_arrays_and_pickling(root, tmp_path):
    source = AFLWSource(root)
    (rejected,) = source.read(CropItem(25000, "image00002.jpg"))
    assert rejected.reason == "corrupt_annotation" and "25001" in rejected.detail
    (outside,) = source.read(CropItem(0, "../../../etc/passwd"))
    assert outside.reason == "path_outside_root"
    clone = pickle.loads(pickle.dumps(source))
    assert isinstance(clone.read(CropItem(0, "image00002.jpg"))[0], RawFace)


def _faces(n_points=21):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, size=(80, 100, 3), dtype=np.uint8)
    faces = []
    for k, name in enumerate(["shared", "shared", "single"]):
        visible = np.ones(n_points, bool)
        visible[[3, 12 + k]] = False
        faces.append(FixtureFace(image=image, points=rng.uniform(5, 75, size=(n_points, 2)), visible=visible,
                                 name=name, split="test", yaw=10.0 * k - 5, extra={"box": (4.0, 6.0, 90.0, 70.0)}))
    return faces


def test_sqlite_form_and_damaged_rows(tmp_path):
    faces = _faces()
    write_aflw_sqlite(tmp_path, faces)
    with sqlite3.connect(tmp_path / "aflw.sqlite") as db:
        db.execute("INSERT INTO FaceImages VALUES (10, 'flickr', 'evil.jpg', '../../evil.jpg', 0, 10, 10)")
        db.execute("INSERT INTO FaceImages VALUES (11, 'flickr', 'gone.jpg', '0/gone.jpg', 0, 10, 10)")
        db.execute("INSERT INTO FaceImages VALUES (12, 'flickr', 'far.jpg', '0/single.jpg', 0, 100, 80)")
        db.executemany("INSERT INTO Faces VALUES (?, ?, 'flickr')",
                       [(4, "evil.jpg"), (5, "gone.jpg"), (6, "single.jpg"), (7, "far.jpg"), (8, "nowhere.jpg")])
        for face_id in (4, 5, 6, 8, 9):
            db.execute("INSERT INTO FeatureCoords VALUES (?, 1, 5.0, 5.0, 1)", (face_id,))
            db.execute("INSERT INTO FeatureCoords VALUES (?, 3, 15.0, 7.0, 1)", (face_id,))
        db.execute("INSERT INTO FeatureCoords VALUES (6, 22, 5.0, 5.0, 1)")  # not a feature: noted
        db.execute("INSERT INTO FeatureCoords VALUES (7, 2, 5000.0, 5.0, 1)")
        db.execute("INSERT INTO FeatureCoords VALUES (7, 3, 5010.0, 9.0, 1)")
        db.execute("INSERT INTO Faces VALUES (9, 'single.jpg', 'flickr')")
        db.execute("UPDATE FeatureCoords SET x = 15.0, y = 5.0 WHERE face_id = 9")  # one spot twice
    source = AFLWSource(tmp_path)
    assert source.form == "sqlite"
    items = list(source.items())
    assert [i.face_id for i in items] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    results = [source.read(item)[0] for item in items]
    reasons = [r.reason if isinstance(r, Rejected) else None for r in results]
    assert reasons == [None, None, None, "path_outside_root", "missing_image", None,
                       "bad_coordinates", "missing_annotation", "degenerate_box"]
    assert "feature_id 22" in results[5].extra["notes"][0] and results[5].visible.sum() == 2
    assert [r.sample_id for r in results[:3]] == ["flickr/0/shared.jpg#0", "flickr/0/shared.jpg#1",
                                                  "flickr/0/single.jpg#0"]
    assert [source.sample_id(item) for item in items[:3]] == [r.sample_id for r in results[:3]]
    for face, written in zip(results[:2], faces[:2], strict=True):
        np.testing.assert_array_equal(face.visible, written.visibility())
        np.testing.assert_allclose(face.points[face.visible], written.points[written.visibility()], atol=1e-12)
        assert np.isnan(face.points[~face.visible]).all()
        assert face.yaw == pytest.approx(written.yaw, abs=1e-9)
        assert face.box.tolist() == [4.0, 6.0, 90.0, 70.0]
    clone = pickle.loads(pickle.dumps(source))  # after a connection was opened
    assert clone._connection is None and isinstance(clone.read(items[0])[0], RawFace)


def test_sqlite_stores_radians_and_one_based_option(tmp_path):
    faces = _faces()
    write_aflw_sqlite(tmp_path, faces, one_based=True)
    with sqlite3.connect(tmp_path / "aflw.sqlite") as db:
        yaw = db.execute("SELECT yaw FROM FacePose WHERE face_id = 3").fetchone()[0]
        x = db.execute("SELECT x FROM FeatureCoords WHERE face_id = 1 AND feature_id = 1").fetchone()[0]
    assert yaw == pytest.approx(math.radians(15.0))
    assert x == pytest.approx(faces[0].points[0, 0] + 1.0)
    (face,) = AFLWSource(tmp_path, one_based=True).read(next(iter(AFLWSource(tmp_path).items())))
    np.testing.assert_allclose(face.points[face.visible], faces[0].points[faces[0].visibility()], atol=1e-12)
    assert face.box.tolist() == [4.0, 6.0, 90.0, 70.0]


def test_bad_list_lines_are_rejected_alone(root, tmp_path):
    """An undecodable byte, a repeated name or an empty line costs that line only, named by number."""
    copy = tmp_path / "AFLW"
    (copy / "test.data").mkdir(parents=True)
    os.symlink(root / "test.configs", copy / "test.configs")
    os.symlink(root / "test.data/AFLW_GT_crop", copy / "test.data/AFLW_GT_crop")
    lines = (root / "test.data/AFLW_GT_crop.list").read_bytes().splitlines()
    lines[3] = lines[3].replace(b"image", b"im\xe4ge")   # latin-1 byte
    lines[6] = lines[0]                                    # a repeat of line 1
    lines[9] = b""                                         # an empty line inside the list
    (copy / "test.data/AFLW_GT_crop.list").write_bytes(b"\n".join(lines) + b"\n\n\n")
    source = AFLWSource(copy)
    items = list(source.items())
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [(r.sample_id, r.reason) for r in rejected] == [
        ("test.data/AFLW_GT_crop.list:4", "corrupt_annotation"),
        ("test.data/AFLW_GT_crop.list:7", "duplicate_sample"),
        ("test.data/AFLW_GT_crop.list:10", "corrupt_annotation")]
    assert "line 4" in rejected[0].detail and "UTF-8" in rejected[0].detail
    assert "repeats line 1" in rejected[1].detail
    crops = [i for i in items if not isinstance(i, Rejected)]
    assert len(crops) == 21080 - 3  # the trailing empty lines are no rows
    assert [c.row for c in crops[:5]] == [0, 1, 2, 4, 5]  # rows stay tied to their line
    face = source.read(next(c for c in crops if c.name == "image00050.jpg"))[0]
    reference = AFLWSource(root).read(next(c for c in AFLWSource(root).items() if c.name == "image00050.jpg"))[0]
    np.testing.assert_array_equal(face.points, reference.points)
