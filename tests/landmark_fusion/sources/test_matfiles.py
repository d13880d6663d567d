"""The checked .mat loader on real 300W-LP / AFLW2000-3D files and on damaged ones."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from landmark_fusion.sources.base import SourceError
from landmark_fusion.sources.matfiles import load_mat, pose_yaw_degrees, save_mat


@pytest.fixture()
def real_mat(samples_dir):
    return samples_dir / "300W-LP" / "HELEN" / "HELEN_232194_1_0.mat"


def test_loads_requested_keys_with_real_values(real_mat):
    arrays = load_mat(real_mat, {"pt2d": (2, 68), "Pose_Para": (1, None)}, {"roi": (1, 4), "absent": (1,)})
    reference = scipy.io.loadmat(real_mat)
    assert set(arrays) == {"pt2d", "Pose_Para", "roi"}
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], reference[key])
        assert arrays[key].dtype == reference[key].dtype
    assert pose_yaw_degrees(arrays["Pose_Para"]) == pytest.approx(np.degrees(reference["Pose_Para"][0, 1]))


def _failure(path, required) -> SourceError:
    with pytest.raises(SourceError) as info:
        load_mat(path, required)
    assert str(path) in info.value.detail
    return info.value


def test_every_failure_is_a_named_source_error(real_mat, tmp_path):
    data = real_mat.read_bytes()
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(data[: len(data) // 2])
    assert _failure(truncated, {"pt2d": (2, 68), "Shape_Para": (199, 1)}).reason == "corrupt_annotation"
    header_only = tmp_path / "header.mat"
    header_only.write_bytes(data[:100])
    assert _failure(header_only, {"pt2d": (2, 68)}).reason == "corrupt_annotation"
    text = tmp_path / "text.mat"
    text.write_text("this is not a MAT file\n" * 20)
    assert _failure(text, {"pt2d": (2, 68)}).reason == "corrupt_annotation"
    missing_key = _failure(real_mat, {"pt3d_68": (3, 68)})
    assert missing_key.reason == "corrupt_annotation" and "pt3d_68" in missing_key.detail
    wrong_shape = _failure(real_mat, {"pt2d": (2, 21)})
    assert "pt2d" in wrong_shape.detail and "(2, 68)" in wrong_shape.detail
    assert _failure(tmp_path / "absent.mat", {"pt2d": (2, 68)}).reason == "missing_annotation"
    strings = save_mat(tmp_path / "strings.mat", {"pt2d": np.array(["abc"])})
    assert "pt2d" in _failure(strings, {"pt2d": (1,)}).detail


def test_save_mat_round_trip_keeps_dtypes(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([[1, -2, 3, 4]], dtype=np.int16)}
    path = save_mat(tmp_path / "x" / "y.mat", arrays)
    loaded = scipy.io.loadmat(path)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
