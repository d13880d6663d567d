"""AFLW2000-3D reader on the real sample files, checked against the .mat and the 3DDFA arrays."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.io

from landmark_fusion.sources.aflw2000_3d import AFLW2000Source
from landmark_fusion.sources.base import RawFace

NAMES = ["image00050", "image00081", "image00251", "image00430", "image00475"]


@pytest.fixture(scope="module")
def root(samples_dir):
    return samples_dir / "AFLW2000-3D"


def test_items_and_exact_points(root, read_face):
    source = AFLW2000Source(root)
    items = list(source.items())
    assert items == [f"AFLW2000/{name}.mat" for name in NAMES]
    listing = (root / "test.data/AFLW2000-3D_crop.list").read_text().split()
    pts68 = np.load(root / "test.configs/AFLW2000-3D.pts68.npy")
    pts21 = np.load(root / "test.configs/AFLW2000-3D.pts21.npy")
    pose = np.load(root / "test.configs/AFLW2000-3D.pose.npy")
    for item, name in zip(items, NAMES, strict=True):
        face = read_face(source, item)
        mat = scipy.io.loadmat(root / item)
        assert face.sample_id == f"AFLW2000/{name}.jpg" and face.split == "test"
        assert face.scheme == "ibug68_fixed" and face.visible.all()
        np.testing.assert_array_equal(face.points, mat["pt3d_68"][:2].T.astype(np.float64) - 1.0)
        np.testing.assert_array_equal(face.extra["depth"], mat["pt3d_68"][2])
        assert face.yaw == pytest.approx(np.degrees(float(mat["Pose_Para"][0][1])), abs=1e-9)
        row = listing.index(f"{name}.jpg")
        np.testing.assert_allclose(face.points, pts68[row, :2].T - 1.0, atol=1e-4)
        assert face.yaw == pytest.approx(float(pose[row]), abs=1e-3)
        visible21 = mat["pt2d"][0] != -1
        np.testing.assert_array_equal(face.extra["aflw21_visible"], visible21)
        np.testing.assert_allclose(face.extra["aflw21_points"][visible21], pts21[row].T[visible21] - 1.0, atol=1e-4)
        assert np.isnan(face.extra["aflw21_points"][~visible21]).all()
        np.testing.assert_array_equal(face.extra["roi"], mat["roi"][0])
    (face,) = source.read("AFLW2000/image00050.mat")
    assert face.points[0].tolist() == pytest.approx([124.84849, 208.62408], abs=1e-4)


def test_root_may_be_the_image_folder(root):
    source = AFLW2000Source(root / "AFLW2000")
    assert list(source.items())[0] == "image00050.mat"
    assert source.read("image00050.mat")[0].sample_id == "image00050.jpg"


def test_damaged_entries(root, tmp_path, read_results):
    folder = tmp_path / "AFLW2000"
    shutil.copytree(root / "AFLW2000", folder)
    data = (folder / "image00081.mat").read_bytes()
    (folder / "image00081.mat").write_bytes(data[:-400])
    (folder / "image00251.jpg").unlink()
    mat = scipy.io.loadmat(folder / "image00430.mat")
    mat["pt3d_68"][0, 5] = np.nan
    scipy.io.savemat(folder / "image00430.mat", {k: v for k, v in mat.items() if not k.startswith("__")})
    mat = scipy.io.loadmat(folder / "image00475.mat")
    scipy.io.savemat(folder / "image00475.mat", {k: v for k, v in mat.items()
                                                 if not k.startswith("__") and k != "pt3d_68"})
    source = AFLW2000Source(tmp_path)
    results, reasons = read_results(source)
    assert reasons == {"AFLW2000/image00081.mat": "corrupt_annotation",
                       "AFLW2000/image00251.mat": "missing_image",
                       "AFLW2000/image00430.mat": "bad_coordinates",
                       "AFLW2000/image00475.mat": "corrupt_annotation"}
    assert "pt3d_68" in results["AFLW2000/image00475.mat"].detail
    assert isinstance(results["AFLW2000/image00050.mat"], RawFace)


def _resave(path, **changes):
    mat = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    for key, value in changes.items():
        if value is None:
            mat.pop(key)
        else:
            mat[key] = value
    scipy.io.savemat(path, mat)


def test_a_defect_in_an_optional_key_keeps_the_face(root, tmp_path):
    """Three files of the release store pt2d as (2, 23); no optional key may cost a face."""
    folder = tmp_path / "AFLW2000"
    shutil.copytree(root / "AFLW2000", folder)
    pt2d = scipy.io.loadmat(folder / "image00050.mat")["pt2d"]
    _resave(folder / "image00050.mat", pt2d=np.hstack([pt2d, [[227.0, 228.0], [300.0, 329.0]]]))
    _resave(folder / "image00081.mat", pt2d=pt2d[:, :20], roi=np.zeros((2, 2)))
    _resave(folder / "image00251.mat", Pose_Para=None)
    bad = scipy.io.loadmat(folder / "image00430.mat")["pt2d"].copy()
    bad[0, 2] = np.nan
    _resave(folder / "image00430.mat", pt2d=bad)
    source = AFLW2000Source(tmp_path)
    faces = {item: source.read(item)[0] for item in source.items()}
    assert all(isinstance(face, RawFace) for face in faces.values()) and len(faces) == 5
    trimmed = faces["AFLW2000/image00050.mat"]
    reference = AFLW2000Source(root).read("AFLW2000/image00050.mat")[0]
    np.testing.assert_array_equal(trimmed.extra["aflw21_visible"], reference.extra["aflw21_visible"])
    np.testing.assert_array_equal(np.nan_to_num(trimmed.extra["aflw21_points"], nan=-7),
                                  np.nan_to_num(reference.extra["aflw21_points"], nan=-7))
    assert trimmed.extra["notes"] == [("optional key 'pt2d' has 23 points; the 2 after the 21 AFLW "
                                      "points are left out")]
    np.testing.assert_array_equal(trimmed.points, reference.points)
    short = faces["AFLW2000/image00081.mat"]
    assert "aflw21_points" not in short.extra and "roi" not in short.extra and len(short.extra["notes"]) == 2
    unposed = faces["AFLW2000/image00251.mat"]
    assert np.isnan(unposed.yaw) and unposed.extra["notes"] == ["no Pose_Para: yaw unknown"]
    holed = faces["AFLW2000/image00430.mat"]
    assert not holed.extra["aflw21_visible"][2] and np.isnan(holed.extra["aflw21_points"][2]).all()
    assert "notes" not in faces["AFLW2000/image00475.mat"].extra


def test_folders_in_the_image_folder_are_named_and_an_empty_root_says_what_it_expected(root, tmp_path):
    folder = tmp_path / "AFLW2000"
    shutil.copytree(root / "AFLW2000", folder)
    (folder / "Code").mkdir()      # the readme's MATLAB demo: no faces, not reported
    (folder / "more").mkdir()
    items = list(AFLW2000Source(tmp_path).items())
    assert items[-1].reason == "wrong_layout" and items[-1].sample_id == "AFLW2000/more/"
    assert len(items) == 6
    (empty,) = AFLW2000Source(folder / "Code").items()
    assert empty.reason == "wrong_layout" and "imageNNNNN.mat" in empty.detail and "empty" in empty.detail


def test_yaw_labels_replace_the_fitted_yaw(root, read_face):
    labels = {"values": "test.configs/AFLW2000-3D-new.pose.npy", "names": "test.data/AFLW2000-3D_crop.list"}
    source = AFLW2000Source(root, yaw_labels=labels)
    listing = (root / "test.data/AFLW2000-3D_crop.list").read_text().split()
    new_pose = np.load(root / "test.configs/AFLW2000-3D-new.pose.npy")
    fitted = np.load(root / "test.configs/AFLW2000-3D.pose.npy")
    for name in NAMES:
        face = read_face(source, f"AFLW2000/{name}.mat")
        row = listing.index(f"{name}.jpg")
        assert face.yaw == pytest.approx(float(new_pose[row]))
        assert face.extra["fitted_yaw"] == pytest.approx(float(fitted[row]), abs=1e-3)


def test_yaw_labels_that_cannot_be_used_name_the_file(root, tmp_path):
    with pytest.raises(ValueError, match="exactly the keys"):
        AFLW2000Source(root, yaw_labels={"values": "x.npy"})
    with pytest.raises(ValueError, match="missing.npy"):
        AFLW2000Source(root, yaw_labels={"values": "missing.npy", "names": "test.data/AFLW2000-3D_crop.list"})
    short = tmp_path / "short.list"
    short.write_text("image00050.jpg\n")
    with pytest.raises(ValueError, match="one yaw per line"):
        AFLW2000Source(root, yaw_labels={"values": "test.configs/AFLW2000-3D-new.pose.npy", "names": str(short)})
