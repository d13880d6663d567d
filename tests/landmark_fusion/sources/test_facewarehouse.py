"""FaceWarehouse reader on the real samples (exact coordinates) and on written fixtures."""
from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.landfiles import write_facewarehouse
from landmark_fusion.sources import get_source
from landmark_fusion.sources.base import RawFace, Rejected
from landmark_fusion.sources.facewarehouse import FaceWarehouseSource


def _expected_points(land_path, width=640, height=480):
    """x = u·W, y = (1 − v)·H computed from the file text (docs/formats.md §6)."""
    lines = land_path.read_text().splitlines()
    rows = np.array([[float(v) for v in line.split()] for line in lines[1:]])
    return np.column_stack([rows[:, 0] * width, (1.0 - rows[:, 1]) * height])


def test_registry_names_the_reader():
    assert get_source("facewarehouse") is FaceWarehouseSource


def test_real_samples(samples_dir, read_face):
    root = samples_dir / "FaceWarehouse"
    source = FaceWarehouseSource(root)
    items = list(source.items())
    assert items == ["Tester_1/TrainingPose/pose_0.land", "Tester_1/TrainingPose/pose_1.land"]
    for item in items:
        face = read_face(source, item)
        assert face.sample_id == item.replace(".land", ".png")
        assert face.scheme == "fw74" and face.split == "train" and face.visible.all()
        assert face.extra["land_convention"] == "normalised/y_up"
        np.testing.assert_allclose(face.points, _expected_points(root / item), rtol=0, atol=1e-9)
    (first,) = source.read(items[0])
    assert first.points[0, 0] == pytest.approx(0.384437 * 640, abs=1e-9)
    assert first.points[0, 1] == pytest.approx((1 - 0.530523) * 480, abs=1e-9)
    assert str(source.convention).startswith("normalised/y_up")


def test_auto_detection_agrees_with_the_verified_convention(samples_dir):
    source = FaceWarehouseSource(samples_dir / "FaceWarehouse", coordinates="auto", y_axis="auto")
    assert source.convention.label == "normalised/y_up"
    assert source.convention.how.startswith("auto")


def _copy_tester(samples_dir, root, number):
    shutil.copytree(samples_dir / "FaceWarehouse" / "Tester_1", root / f"Tester_{number}")


def test_test_testers_and_tester_order(samples_dir, tmp_path):
    for number in (2, 10, 1):
        _copy_tester(samples_dir, tmp_path, number)
    source = FaceWarehouseSource(tmp_path, test_testers=[10, "Tester_2"])
    items = list(source.items())
    assert [item.split("/")[0] for item in items] == ["Tester_1"] * 2 + ["Tester_2"] * 2 + ["Tester_10"] * 2
    splits = {item.split("/")[0]: source.read(item)[0].split for item in items}
    assert splits == {"Tester_1": "train", "Tester_2": "test", "Tester_10": "test"}


def test_broken_poses_are_rejected(samples_dir, tmp_path, read_results):
    _copy_tester(samples_dir, tmp_path, 1)
    poses = tmp_path / "Tester_1" / "TrainingPose"
    (poses / "pose_0.land").unlink()                                   # image without landmarks
    shutil.copy(poses / "pose_1.land", poses / "pose_2.land")          # landmarks without image
    lines = (poses / "pose_1.land").read_bytes().split(b"\r\n")
    (poses / "pose_3.land").write_bytes(b"\r\n".join(lines[:-2] + [b""]))   # 73 points, count 74
    shutil.copy(poses / "pose_1.png", poses / "pose_3.png")
    source = FaceWarehouseSource(tmp_path)
    results, reasons = read_results(source)
    assert list(results) == [f"Tester_1/TrainingPose/pose_{j}.land" for j in range(4)]
    assert {item.split("/")[-1]: reason for item, reason in reasons.items()} == {
        "pose_0.land": "missing_annotation", "pose_2.land": "missing_image", "pose_3.land": "wrong_point_count"}
    assert "73" in results["Tester_1/TrainingPose/pose_3.land"].detail
    assert isinstance(results["Tester_1/TrainingPose/pose_1.land"], RawFace)


def test_written_fixture_reads_back(tmp_path):
    rng = np.random.default_rng(11)
    faces = [FixtureFace(image=np.zeros((48, 64, 3), np.uint8), points=rng.uniform(2, 46, (74, 2)))
             for _ in range(3)]
    write_facewarehouse(tmp_path, faces, poses_per_tester=2)
    source = pickle.loads(pickle.dumps(FaceWarehouseSource(tmp_path)))
    items = list(source.items())
    assert items == ["Tester_1/TrainingPose/pose_0.land", "Tester_1/TrainingPose/pose_1.land",
                     "Tester_2/TrainingPose/pose_0.land"]
    for face, item in zip(faces, items, strict=True):
        (read,) = source.read(item)
        np.testing.assert_allclose(read.points, face.points, atol=64 * 1e-6)


def test_folders_it_cannot_use_are_named(samples_dir, tmp_path):
    import os

    _copy_tester(samples_dir, tmp_path / "elsewhere", 1)
    os.symlink(tmp_path / "elsewhere" / "Tester_1", tmp_path / "Tester_1")  # a linked tester
    (tmp_path / "Tester_2").mkdir()                                          # no TrainingPose/
    (tmp_path / "scans").mkdir()                                             # not a tester
    source = FaceWarehouseSource(tmp_path)
    items = list(source.items())
    rejected = [(i.sample_id, i.reason) for i in items if isinstance(i, Rejected)]
    assert ("Tester_2/", "wrong_layout") in rejected and ("scans/", "wrong_layout") in rejected
    faces = [source.read(i)[0] for i in items if not isinstance(i, Rejected)]
    assert len(faces) == 2 and all(isinstance(f, RawFace) for f in faces)
    (nothing,) = FaceWarehouseSource(tmp_path / "scans").items()
    assert nothing.reason == "wrong_layout" and "Tester_<k>/TrainingPose/" in nothing.detail
