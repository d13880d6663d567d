"""The lean MATLAB 5 reader gives scipy's arrays, or None where scipy must read the file."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from landmark_fusion.sources.mat5 import read_numeric
from landmark_fusion.sources.matfiles import save_mat


def _same_as_scipy(path) -> None:
    names = [name for name, _, _ in scipy.io.whosmat(path)]
    reference = scipy.io.loadmat(path)
    arrays = read_numeric(path.read_bytes(), names)
    assert arrays is not None
    assert set(arrays) == set(names)
    for name in names:
        assert arrays[name].dtype == reference[name].dtype, name
        assert arrays[name].shape == reference[name].shape, name
        np.testing.assert_array_equal(arrays[name], reference[name])


def test_real_files_read_like_scipy(samples_dir):
    files = sorted(samples_dir.glob("300W-LP*/**/*.mat")) + sorted(samples_dir.glob("AFLW2000-3D/**/*.mat"))
    assert len(files) >= 4
    for path in files:
        _same_as_scipy(path)


def test_only_requested_names_come_back(samples_dir):
    path = samples_dir / "300W-LP" / "HELEN" / "HELEN_232194_1_0.mat"
    arrays = read_numeric(path.read_bytes(), ["pt2d", "not_there"])
    assert set(arrays) == {"pt2d"} and arrays["pt2d"].shape == (2, 68)


@pytest.mark.parametrize("compress", [True, False])
def test_every_numeric_type_both_layouts(tmp_path, compress):
    rng = np.random.default_rng(0)
    arrays = {"d": rng.normal(size=(3, 5)), "s": rng.normal(size=(1, 7)).astype(np.float32),
              "i16": np.array([[1, -2, 3, 4]], np.int16), "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
              "i64": np.arange(4, dtype=np.int64).reshape(4, 1), "three": rng.normal(size=(2, 3, 4))}
    path = tmp_path / "all.mat"
    scipy.io.savemat(path, arrays, do_compression=compress)
    _same_as_scipy(path)


def test_what_it_leaves_to_scipy(tmp_path, samples_dir):
    real = (samples_dir / "300W-LP" / "HELEN" / "HELEN_232194_1_0.mat").read_bytes()
    assert read_numeric(real[:100], ["pt2d"]) is None  # shorter than the header
    assert read_numeric(real[: len(real) // 2], ["pt2d", "Pose_Para", "Shape_Para"]) is None
    # the walk stops at the last name asked for: what follows it is not read
    whole = read_numeric(real, ["pt2d"])
    assert whole is not None and read_numeric(real[: len(real) // 2] + b"\xff" * 8, ["pt2d"]) is not None
    assert read_numeric(b"not a MAT file" * 20, ["pt2d"]) is None
    strings = save_mat(tmp_path / "strings.mat", {"pt2d": np.array(["abc"])})
    assert read_numeric(strings.read_bytes(), ["pt2d"]) is None
    complex_ = save_mat(tmp_path / "complex.mat", {"pt2d": np.array([[1 + 2j]])})
    assert read_numeric(complex_.read_bytes(), ["pt2d"]) is None
    cell = save_mat(tmp_path / "cell.mat", {"pt2d": np.array([np.zeros(2), np.zeros(3)], dtype=object)})
    assert read_numeric(cell.read_bytes(), ["pt2d"]) is None
    v4 = tmp_path / "v4.mat"
    scipy.io.savemat(v4, {"pt2d": np.zeros((2, 68))}, format="4")
    assert read_numeric(v4.read_bytes(), ["pt2d"]) is None


@pytest.mark.parametrize("compress", [True, False])
def test_positions_learned_from_one_file_never_change_another(tmp_path, compress):
    """The positions remembered from a file are tried on the next: a file with its variables in
    another order, or without one of them, or with another name there, still reads as scipy's."""
    from landmark_fusion.sources import mat5

    mat5._POSITIONS.clear()
    rng = np.random.default_rng(1)
    layouts = {"first": ["a", "b", "pose", "c", "roi"], "moved": ["roi", "a", "pose", "b", "c"],
               "missing": ["a", "b", "pose", "c"], "renamed": ["a", "b", "posed", "c", "roi"]}
    for label, order in [*layouts.items(), ("first", layouts["first"])]:
        values = {name: rng.normal(size=(1, 3 + i)) for i, name in enumerate(order)}
        path = tmp_path / f"{label}.mat"
        scipy.io.savemat(path, values, do_compression=compress)  # variables in insertion order
        arrays = read_numeric(path.read_bytes(), ["pose", "roi"])
        assert arrays is not None
        expected = {name: values[name] for name in ("pose", "roi") if name in values}
        assert set(arrays) == set(expected), label
        for name, value in expected.items():
            np.testing.assert_array_equal(arrays[name], value)
    assert mat5._POSITIONS[frozenset({"pose", "roi"})] == (2, 4)
