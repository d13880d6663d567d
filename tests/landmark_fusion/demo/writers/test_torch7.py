"""The Torch7 serializer writes the byte layout of ``torch.save`` for a 2-D tensor."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torchfile

from landmark_fusion.demo.writers.torch7 import t7_tensor_bytes, write_t7_tensor


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def string(self) -> bytes:
        (size,) = self.take("<i")
        value = self.data[self.at:self.at + size]
        self.at += size
        return value


@pytest.mark.parametrize("dtype,name,fmt", [(np.float32, b"Float", "f"), (np.float64, b"Double", "d")])
def test_byte_layout(dtype, name, fmt):
    array = np.arange(136, dtype=np.float64).reshape(68, 2) * 0.5 - 3
    cursor = _Cursor(t7_tensor_bytes(array, dtype))
    assert cursor.take("<ii") == (4, 1)                      # TYPE_TORCH, object index 1
    assert cursor.string() == b"V 1"
    assert cursor.string() == b"torch." + name + b"Tensor"
    assert cursor.take("<i") == (2,)                         # ndim
    assert cursor.take("<2q") == (68, 2)                     # sizes
    assert cursor.take("<2q") == (2, 1)                      # strides in elements
    assert cursor.take("<q") == (1,)                         # storage offset, 1-based
    assert cursor.take("<ii") == (4, 2)                      # the storage: TYPE_TORCH, index 2
    assert cursor.string() == b"V 1"
    assert cursor.string() == b"torch." + name + b"Storage"
    assert cursor.take("<q") == (136,)
    values = cursor.take(f"<136{fmt}")
    assert cursor.at == len(cursor.data)
    np.testing.assert_array_equal(np.array(values), array.reshape(-1).astype(dtype))


def test_torchfile_reads_other_shapes_and_types(tmp_path):
    for array, dtype in [(np.arange(12).reshape(3, 4), np.int64),
                         (np.arange(6).reshape(2, 3).T, np.float32),   # non-contiguous input
                         (np.arange(5), np.uint8)]:
        path = write_t7_tensor(tmp_path / "t.t7", array, dtype)
        np.testing.assert_array_equal(torchfile.load(str(path)), array.astype(dtype))


def test_unsupported_type_refused():
    with pytest.raises(ValueError):
        t7_tensor_bytes(np.zeros(3), np.complex64)
