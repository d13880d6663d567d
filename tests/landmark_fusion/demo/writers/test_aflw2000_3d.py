"""AFLW2000-3D writer: same keys/shapes/dtypes as the real files; reader gets the points back."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from landmark_fusion.demo.writers.aflw2000_3d import write_aflw2000_3d
from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.sources.aflw2000_3d import AFLW2000Source


def _signature(path):
    return {k: (v.shape, v.dtype) for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}


def test_round_trip_and_real_signature(tmp_path, samples_dir):
    rng = np.random.default_rng(4)
    points = rng.uniform(10, 100, size=(68, 2))
    depth = rng.uniform(-80, 80, size=68)
    aflw21 = rng.uniform(10, 100, size=(21, 2))
    visible21 = np.ones(21, bool)
    visible21[[12, 16]] = False
    face = FixtureFace(image=rng.integers(0, 255, size=(120, 110, 3), dtype=np.uint8), points=points,
                       points3d=np.column_stack([points, depth]), split="test", yaw=-30.0,
                       extra={"aflw21_points": aflw21, "aflw21_visible": visible21})
    (path,) = write_aflw2000_3d(tmp_path, [face])
    assert path.relative_to(tmp_path).as_posix() == "AFLW2000/image00002.mat"
    assert _signature(path) == _signature(samples_dir / "AFLW2000-3D/AFLW2000/image00050.mat")
    raw = scipy.io.loadmat(path)["pt2d"]
    assert raw[:, 12].tolist() == [-1.0, 452.0]

    (read,) = AFLW2000Source(tmp_path).read("AFLW2000/image00002.mat")
    np.testing.assert_allclose(read.points, points, atol=2e-5)  # float32 in the file, like the real one
    np.testing.assert_allclose(read.extra["depth"], depth, atol=2e-5)
    np.testing.assert_array_equal(read.extra["aflw21_visible"], visible21)
    np.testing.assert_allclose(read.extra["aflw21_points"][visible21], aflw21[visible21], atol=1e-12)
    assert read.yaw == pytest.approx(-30.0, abs=1e-4)
