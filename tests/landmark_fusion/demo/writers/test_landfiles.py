"""The ``.land`` writer reproduces FaceWarehouse's files byte for byte."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.landfiles import format_land, write_facewarehouse, write_lfw74


@pytest.mark.parametrize("pose", ["pose_0", "pose_1"])
def test_reproduces_the_real_files(samples_dir, pose):
    path = samples_dir / "FaceWarehouse" / "Tester_1" / "TrainingPose" / f"{pose}.land"
    original = path.read_bytes()
    rows = np.array([[float(v) for v in line.split()] for line in original.decode().split("\r\n")[1:-1]])
    pixels = np.column_stack([rows[:, 0] * 640, (1 - rows[:, 1]) * 480])  # docs/formats.md §6
    assert format_land(pixels, (640, 480)).encode("ascii") == original


def test_layout_and_variants(tmp_path):
    points = np.array([[10.0, 20.0]] * 74)
    text = format_land(points, (100, 50))
    assert text.startswith("74\r\n0.100000 0.600000\r\n") and text.endswith("\r\n")
    assert text.count("\r\n") == 75 and "\n" not in text.replace("\r\n", "")
    assert format_land(points, (100, 50), normalised=False, y_up=False).split("\r\n")[1] == "10.000000 20.000000"
    assert format_land(points, (100, 50), normalised=False, y_up=True).split("\r\n")[1] == "10.000000 30.000000"
    assert format_land(points, (100, 50), normalised=True, y_up=False).split("\r\n")[1] == "0.100000 0.400000"


def test_layouts_on_disk(tmp_path):
    image = np.zeros((30, 40, 3), np.uint8)
    faces = [FixtureFace(image=image, points=np.full((74, 2), 5.0), split=s, name=f"P/P_{i}")
             for i, s in enumerate(["train", "test", "train"])]
    fw = write_facewarehouse(tmp_path / "fw", faces, poses_per_tester=2)
    assert [p.relative_to(tmp_path / "fw").as_posix() for p in fw] == [
        "Tester_1/TrainingPose/pose_0.land", "Tester_1/TrainingPose/pose_1.land",
        "Tester_2/TrainingPose/pose_0.land"]
    assert all(p.with_suffix(".png").is_file() for p in fw)
    lfw = write_lfw74(tmp_path / "lfw", faces)
    assert [p.relative_to(tmp_path / "lfw").as_posix() for p in lfw] == [
        "train/P/P_0.land", "test/P/P_1.land", "train/P/P_2.land"]
    assert all(p.with_suffix(".jpg").is_file() for p in lfw)
    write_lfw74(tmp_path / "flat", faces, split_folders=False)
    assert (tmp_path / "flat" / "test.txt").read_text() == "P/P_1.jpg\n"
