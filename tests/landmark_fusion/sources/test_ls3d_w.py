"""LS3D-W reader on fixtures written in the documented layout (no real .t7 sample exists)."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torchfile

from landmark_fusion.demo.writers.base import FixtureFace, save_rgb
from landmark_fusion.demo.writers.ls3d_w import write_ls3d_w
from landmark_fusion.demo.writers.torch7 import write_t7_tensor
from landmark_fusion.sources import get_source
from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.ls3d_w import LS3DWSource, yaw_bucket


def _face(seed: int, yaw: float = math.nan, **extra) -> FixtureFace:
    rng = np.random.default_rng(seed)
    points = rng.uniform(10, 90, size=(68, 2))
    return FixtureFace(image=np.zeros((100, 120, 3), np.uint8), points=points, yaw=yaw, extra=extra)


@pytest.fixture()
def database(tmp_path):
    balanced = [_face(1, 10.0), _face(2, -45.0), _face(3, 80.0), _face(4, 5.0)]
    video = [_face(5, category="CatB", video="017"), _face(6, category="CatB", video="017")]
    menpo = [_face(7)]
    write_ls3d_w(tmp_path, balanced, "new_dataset")
    write_ls3d_w(tmp_path, video, "300VW-3D")
    write_ls3d_w(tmp_path, menpo, "Menpo-3D", dtype="float64")
    return tmp_path, balanced, video, menpo


def test_registry_names_the_reader():
    assert get_source("ls3d_w") is LS3DWSource


def test_reads_every_folder_with_its_split(database):
    root, balanced, video, menpo = database
    source = LS3DWSource(root)
    items = list(source.items())
    assert items == ["new_dataset/1.t7", "new_dataset/2.t7", "new_dataset/3.t7", "new_dataset/4.t7",
                     "300VW-3D/CatB/017/000001.t7", "300VW-3D/CatB/017/000002.t7",
                     "Menpo-3D/image_0001.t7"]
    faces = [face for item in items for face in source.read(item)]
    assert all(isinstance(face, RawFace) for face in faces)
    by_id = {face.sample_id: face for face in faces}
    expected = {"new_dataset/1.jpg": balanced[0], "new_dataset/2.jpg": balanced[1],
                "new_dataset/3.jpg": balanced[2], "new_dataset/4.jpg": balanced[3],
                "300VW-3D/CatB/017/000001.jpg": video[0], "300VW-3D/CatB/017/000002.jpg": video[1]}
    for sample_id, fixture in expected.items():
        face = by_id[sample_id]
        stored = torchfile.load(str(root / sample_id.replace(".jpg", ".t7")))
        np.testing.assert_array_equal(face.points, stored.astype(np.float64))
        np.testing.assert_array_equal(face.points, fixture.points.astype(np.float32).astype(np.float64))
        assert face.scheme == "ibug68_fixed" and face.visible.all() and math.isnan(face.yaw)
        assert face.image_path == (root / sample_id).resolve()
    np.testing.assert_array_equal(by_id["Menpo-3D/image_0001.jpg"].points, menpo[0].points)  # DoubleTensor
    assert {f.sample_id: f.split for f in faces if f.split == "train"} == {
        "300VW-3D/CatB/017/000001.jpg": "train", "300VW-3D/CatB/017/000002.jpg": "train"}
    assert by_id["Menpo-3D/image_0001.jpg"].split == "test"


def test_balanced_yaw_buckets_follow_the_modulo_rule(database):
    root, *_ = database
    source = LS3DWSource(root)
    buckets = {}
    for item in source.items():
        for face in source.read(item):
            if face.sample_id.startswith("new_dataset/"):
                assert face.extra["yaw_bucket_convention"] == "hzh8311/pyhowfar LS3DW.py modulo rule"
                buckets[face.sample_id] = face.extra["yaw_bucket"]
            else:
                assert "yaw_bucket" not in face.extra
    # fixture yaws 10, -45, 80, 5 are written as numbers 1, 2, 3, 4 (n % 3 = 1, 2, 0, 1)
    assert buckets == {"new_dataset/1.jpg": "0-30", "new_dataset/2.jpg": "30-60",
                       "new_dataset/3.jpg": "60-90", "new_dataset/4.jpg": "0-30"}
    assert yaw_bucket("10") == "0-30" and yaw_bucket("11") == "30-60" and yaw_bucket("12") == "60-90"


def test_one_based_option_and_png_images(tmp_path):
    points = np.random.default_rng(3).uniform(5, 40, size=(68, 2))
    save_rgb(tmp_path / "AFLW2000-3D-Reannotated" / "image00050.png", np.zeros((50, 50, 3), np.uint8))
    write_t7_tensor(tmp_path / "AFLW2000-3D-Reannotated" / "image00050.t7", points, np.float64)
    zero = LS3DWSource(tmp_path).read("AFLW2000-3D-Reannotated/image00050.t7")[0]
    one = LS3DWSource(tmp_path, one_based=True).read("AFLW2000-3D-Reannotated/image00050.t7")[0]
    assert zero.sample_id == "AFLW2000-3D-Reannotated/image00050.png"
    np.testing.assert_array_equal(zero.points, points)
    np.testing.assert_array_equal(one.points, points - 1.0)
    assert LS3DWSource(tmp_path, folders=["new_dataset"]).folders == ("new_dataset",)
    (rejected,) = LS3DWSource(tmp_path, folders=["new_dataset"]).items()
    assert rejected.reason == "wrong_layout" and "new_dataset/" in rejected.detail
    with pytest.raises(ValueError):
        LS3DWSource(tmp_path, folders=["nonsense"])


def test_broken_files_are_rejected_and_the_rest_read(database):
    root, *_ = database
    folder = root / "new_dataset"
    data = (folder / "1.t7").read_bytes()
    (folder / "1.t7").write_bytes(data[:-50])                          # truncated storage
    (folder / "2.jpg").unlink()                                         # missing image
    write_t7_tensor(folder / "3.t7", np.ones((67, 2)))                  # wrong point count
    nan_points = np.full((68, 2), 20.0)
    nan_points[5, 0] = np.nan
    write_t7_tensor(folder / "4.t7", nan_points)                        # NaN
    (folder / "12.jpg").write_bytes(b"not an image")                    # corrupt image header
    write_t7_tensor(folder / "12.t7", np.full((68, 2), 20.0))
    source = LS3DWSource(root)
    results = {item: source.read(item) for item in source.items()}
    reasons = {item: r[0].reason for item, r in results.items() if isinstance(r[0], Rejected)}
    assert reasons == {"new_dataset/1.t7": "corrupt_annotation", "new_dataset/2.t7": "missing_image",
                       "new_dataset/3.t7": "wrong_point_count", "new_dataset/4.t7": "bad_coordinates",
                       "new_dataset/12.t7": "corrupt_image"}
    details = {item: r[0].detail for item, r in results.items() if isinstance(r[0], Rejected)}
    assert "1.t7" in details["new_dataset/1.t7"] and "truncated" in details["new_dataset/1.t7"]
    assert "3.t7" in details["new_dataset/3.t7"] and "(67, 2)" in details["new_dataset/3.t7"]
    assert sum(isinstance(r[0], RawFace) for r in results.values()) == 3


def test_items_and_faces_pickle(database):
    root, *_ = database
    source = pickle.loads(pickle.dumps(LS3DWSource(root)))
    item = next(iter(source.items()))
    face = pickle.loads(pickle.dumps(source.read(pickle.loads(pickle.dumps(item)))))[0]
    assert isinstance(face, RawFace)


def test_a_folder_that_is_none_of_ls3d_ws_is_named(database):
    root, *_ = database
    (root / "extra_faces").mkdir()
    items = list(LS3DWSource(root).items())
    rejected = [(i.sample_id, i.reason) for i in items if isinstance(i, Rejected)]
    assert rejected == [("extra_faces/", "wrong_layout")]
    assert len(items) == 8
