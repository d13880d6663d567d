"""The shared ``.land`` parser: real FaceWarehouse files, broken files, convention detection."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.demo.writers.landfiles import write_land
from landmark_fusion.sources.base import SourceError
from landmark_fusion.sources.landfiles import (
    LandConvention,
    detect_convention,
    land_to_pixels,
    parse_convention_options,
    read_land,
)


def _sample_rows(path):
    """The sample's numbers parsed independently: split the raw bytes on CRLF."""
    lines = path.read_bytes().split(b"\r\n")
    assert lines[-1] == b""  # CRLF after the last line too
    count = int(lines[0])
    rows = [[float(v) for v in line.split(b" ")] for line in lines[1:-1]]
    assert len(rows) == count
    return np.array(rows)


@pytest.mark.parametrize("pose", ["pose_0", "pose_1"])
def test_real_facewarehouse_files(samples_dir, pose):
    path = samples_dir / "FaceWarehouse" / "Tester_1" / "TrainingPose" / f"{pose}.land"
    raw = read_land(path, expected=74)
    assert raw.shape == (74, 2)
    np.testing.assert_array_equal(raw, _sample_rows(path))
    if pose == "pose_0":
        assert raw[0].tolist() == [0.384437, 0.530523]


def test_pixel_conversion_of_the_real_sample(samples_dir):
    path = samples_dir / "FaceWarehouse" / "Tester_1" / "TrainingPose" / "pose_0.land"
    convention = LandConvention(normalised=True, y_up=True)
    points = land_to_pixels(read_land(path), convention, (640, 480))
    assert points[0].tolist() == [0.384437 * 640, 480 - 0.530523 * 480]
    assert points[0, 1] == pytest.approx((1 - 0.530523) * 480, abs=1e-9)


def test_conversion_variants():
    raw = np.array([[0.25, 0.75], [100.0, 30.0]])
    size = (200, 100)
    assert land_to_pixels(raw[:1], LandConvention(True, True), size).tolist() == [[50.0, 25.0]]
    assert land_to_pixels(raw[:1], LandConvention(True, False), size).tolist() == [[50.0, 75.0]]
    assert land_to_pixels(raw[1:], LandConvention(False, True), size).tolist() == [[100.0, 70.0]]
    assert land_to_pixels(raw[1:], LandConvention(False, False), size).tolist() == [[100.0, 30.0]]


def _write(path, text: str):
    path.write_bytes(text.replace("\n", "\r\n").encode("ascii"))
    return path


@pytest.mark.parametrize("text,reason,where", [
    ("74\n" + "0.5 0.5\n" * 73, "wrong_point_count", "74"),
    ("73\n" + "0.5 0.5\n" * 73, "wrong_point_count", "expected 74"),
    ("74\n" + "0.5 0.5\n" * 10 + "nan 0.5\n" + "0.5 0.5\n" * 63, "bad_coordinates", ":12"),
    ("74\n" + "0.5 0.5\n" * 10 + "0.5 abc\n" + "0.5 0.5\n" * 63, "corrupt_annotation", ":12"),
    ("74\n" + "0.5 0.5 0.1\n" + "0.5 0.5\n" * 73, "wrong_field_count", ":2"),
    ("seventy-four\n" + "0.5 0.5\n" * 74, "corrupt_annotation", ":1"),
    ("", "corrupt_annotation", "empty"),
])
def test_broken_files_name_file_and_problem(tmp_path, text, reason, where):
    path = _write(tmp_path / "bad.land", text)
    with pytest.raises(SourceError) as info:
        read_land(path, expected=74)
    assert info.value.reason == reason
    assert str(path) in info.value.detail and where in info.value.detail


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(SourceError) as info:
        read_land(tmp_path / "none.land")
    assert info.value.reason == "missing_annotation"
    (tmp_path / "bin.land").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(SourceError) as info:
        read_land(tmp_path / "bin.land")
    assert info.value.reason == "corrupt_annotation"


def _upright_face(rng, width, height):
    """fw74-shaped points: brows (15-26) well above the mouth (46-63)."""
    points = np.column_stack([rng.uniform(0.3, 0.7, 74) * width, rng.uniform(0.45, 0.55, 74) * height])
    points[15:27, 1] = rng.uniform(0.30, 0.38, 12) * height
    points[46:64, 1] = rng.uniform(0.65, 0.75, 18) * height
    return points


@pytest.mark.parametrize("normalised", [True, False])
@pytest.mark.parametrize("y_up", [True, False])
def test_detection_finds_each_convention(tmp_path, normalised, y_up):
    rng = np.random.default_rng(7)
    paths = []
    for i in range(6):
        size = (250, 250) if i % 2 else (320, 240)
        paths.append(write_land(tmp_path / f"f{i}.land", _upright_face(rng, *size), size, normalised, y_up))
    found = detect_convention(paths)
    assert (found.normalised, found.y_up) == (normalised, y_up)
    assert found.how.startswith("auto: ")
    assert f"{6 if normalised else 0}/6 files within" in found.how
    assert f"{6 if y_up else 0}/6 files with brows at larger v" in found.how


def test_detection_majority_and_forcing(tmp_path):
    rng = np.random.default_rng(8)
    paths = [write_land(tmp_path / f"a{i}.land", _upright_face(rng, 200, 200), (200, 200), False, False)
             for i in range(3)]
    paths.append(write_land(tmp_path / "odd.land", _upright_face(rng, 200, 200), (200, 200), True, True))
    paths.append(_write(tmp_path / "broken.land", "74\nx y\n"))
    found = detect_convention(paths)
    assert (found.normalised, found.y_up) == (False, False)
    assert "0/3" not in found.how and "1/4" in found.how  # the odd file is outvoted, the broken skipped
    forced = detect_convention(paths, normalised=True, y_up=True)
    assert (forced.normalised, forced.y_up, forced.how) == (True, True, "forced")
    half = detect_convention(paths, y_up=True)
    assert (half.normalised, half.y_up) == (False, True)
    assert half.how == "auto: 1/4 files within ±1.5; orientation forced"
    empty = detect_convention([])
    assert empty.label == "normalised/y_up"  # FaceWarehouse default
    assert empty.how == "auto: range: no readable file, default; orientation: no usable file, default"


def test_detection_tie_keeps_the_default(tmp_path):
    rng = np.random.default_rng(9)
    paths = [write_land(tmp_path / "a.land", _upright_face(rng, 200, 200), (200, 200), True, True),
             write_land(tmp_path / "b.land", _upright_face(rng, 200, 200), (200, 200), False, False)]
    found = detect_convention(paths, default=LandConvention(normalised=False, y_up=True))
    assert (found.normalised, found.y_up) == (False, True)
    assert found.how == "auto: 1/2 files within ±1.5; 1/2 files with brows at larger v than mouth"
    pinned = detect_convention(paths, normalised=True)
    assert (pinned.normalised, pinned.y_up) == (True, True)  # the tie falls to the FaceWarehouse default
    assert pinned.how.startswith("auto: range forced; 1/2 files")


def test_convention_options():
    assert parse_convention_options() == (None, None)
    assert parse_convention_options("pixels", "down") == (False, False)
    assert parse_convention_options("normalised", "up") == (True, True)
    with pytest.raises(ValueError):
        parse_convention_options("meters")
    with pytest.raises(ValueError):
        parse_convention_options("auto", "sideways")
