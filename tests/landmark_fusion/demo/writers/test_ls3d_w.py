"""LS3D-W writer: layout and Balanced-set numbering under the modulo yaw rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torchfile

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.ls3d_w import balanced_numbers, bucket_code, write_ls3d_w


def test_bucket_codes_and_numbers():
    assert [bucket_code(y) for y in (0, 29.9, -30, 59, 60, -89, 120)] == [1, 1, 2, 2, 0, 0, 0]
    assert bucket_code(math.nan) is None
    assert balanced_numbers([70, 70, 10, math.nan, 40]) == [3, 6, 7, 8, 11]


def test_layouts(tmp_path):
    face = FixtureFace(image=np.zeros((8, 8, 3), np.uint8), points=np.full((68, 2), 3.25), yaw=45.0,
                       name="n", extra={"category": "CatC", "video": "410"})
    paths = (write_ls3d_w(tmp_path, [face], "new_dataset") + write_ls3d_w(tmp_path, [face], "300VW-3D")
             + write_ls3d_w(tmp_path, [face], "300W-Testset-3D"))
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "new_dataset/2.t7", "300VW-3D/CatC/410/000001.t7", "300W-Testset-3D/n.t7"]
    for path in paths:
        assert path.with_suffix(".jpg").is_file()
        loaded = torchfile.load(str(path))
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded, np.full((68, 2), 3.25, np.float32))
    with pytest.raises(ValueError):
        write_ls3d_w(tmp_path, [face], "elsewhere")
