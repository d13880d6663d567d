"""Torch7 tensor reading: files from the serializer read back identically; broken files are named."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torchfile

from landmark_fusion.demo.writers.torch7 import write_t7_tensor
from landmark_fusion.sources.base import SourceError
from landmark_fusion.sources.torch7 import load_t7_tensor


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_matches_torchfile(tmp_path, dtype):
    points = np.random.default_rng(0).uniform(-20, 500, size=(68, 2))
    path = write_t7_tensor(tmp_path / "a.t7", points, dtype)
    expected = points.astype(dtype)
    by_torchfile = torchfile.load(str(path))
    ours = load_t7_tensor(path)
    assert by_torchfile.dtype == dtype and by_torchfile.shape == (68, 2)
    np.testing.assert_array_equal(by_torchfile, expected)
    np.testing.assert_array_equal(ours, expected.astype(np.float64))
    assert ours.dtype == np.float64


@pytest.mark.parametrize("keep", [0, 3, 20, 60, 120, -4, -300])
def test_truncated_file_is_corrupt_annotation(tmp_path, keep):
    data = (write_t7_tensor(tmp_path / "a.t7", np.ones((68, 2)))).read_bytes()
    broken = tmp_path / "broken.t7"
    broken.write_bytes(data[:keep])
    with pytest.raises(SourceError) as info:
        load_t7_tensor(broken)
    assert info.value.reason == "corrupt_annotation"
    assert str(broken) in info.value.detail


def test_missing_file_is_missing_annotation(tmp_path):
    with pytest.raises(SourceError) as info:
        load_t7_tensor(tmp_path / "nope.t7")
    assert info.value.reason == "missing_annotation"


def test_a_number_is_not_a_tensor(tmp_path):
    path = tmp_path / "number.t7"
    path.write_bytes(struct.pack("<id", 1, 3.5))  # TYPE_NUMBER, value
    with pytest.raises(SourceError) as info:
        load_t7_tensor(path)
    assert info.value.reason == "corrupt_annotation" and "not a tensor" in info.value.detail


def test_garbage_type_code(tmp_path):
    path = tmp_path / "junk.t7"
    path.write_bytes(b"\x63\x00\x00\x00" + b"\x00" * 40)
    with pytest.raises(SourceError) as info:
        load_t7_tensor(path)
    assert info.value.reason == "corrupt_annotation"
