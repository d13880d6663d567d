"""Serialise a numeric array as Torch7's ``torch.save`` does (binary mode, 64-bit little-endian).

Layout of a saved tensor (Torch7 ``File.lua`` ``writeObject`` and ``generic/Tensor.c`` /
``generic/Storage.c`` ``write``), every int 4 bytes, every long 8 bytes:

    int   4 (TORCH object)      int   object index (1 for the tensor)
    int   len, bytes "V 1"      int   len, bytes class name, e.g. "torch.FloatTensor"
    int   ndim                  long[ndim] sizes    long[ndim] strides (in elements)
    long  storage offset + 1 (1-based, Lua convention)
    int   4 (TORCH object)      int   object index (2 for the storage)
    int   len, bytes "V 1"      int   len, bytes "torch.FloatStorage"
    long  number of elements    raw values in the storage's type
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

TYPE_TORCH = 4
VERSION = b"V 1"

#: numpy dtype -> Torch7 tensor type prefix ("torch.<prefix>Tensor", "torch.<prefix>Storage")
_PREFIX = {
    np.dtype(np.float32): "Float",
    np.dtype(np.float64): "Double",
    np.dtype(np.int32): "Int",
    np.dtype(np.int64): "Long",
    np.dtype(np.uint8): "Byte",
}


def _string(value: bytes) -> bytes:
    return struct.pack("<i", len(value)) + value


def _object_header(index: int, class_name: str) -> bytes:
    return (struct.pack("<ii", TYPE_TORCH, index) + _string(VERSION)
            + _string(class_name.encode("ascii")))


def t7_tensor_bytes(array: np.ndarray, dtype: DTypeLike = np.float32) -> bytes:
    """The bytes ``torch.save`` writes for ``torch.<Type>Tensor`` holding ``array`` (contiguous)."""
    dtype = np.dtype(dtype)
    if dtype not in _PREFIX:
        raise ValueError(f"no Torch7 tensor type for {dtype}")
    data = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<"))
    prefix = _PREFIX[dtype]
    ndim = data.ndim
    strides = [s // data.itemsize for s in data.strides] if data.size else [1] * ndim
    out = bytearray(_object_header(1, f"torch.{prefix}Tensor"))
    out += struct.pack("<i", ndim)
    out += struct.pack(f"<{ndim}q", *data.shape)
    out += struct.pack(f"<{ndim}q", *strides)
    out += struct.pack("<q", 0 + 1)  # storage offset, 1-based
    out += _object_header(2, f"torch.{prefix}Storage")
    out += struct.pack("<q", data.size)
    out += data.tobytes(order="C")
    return bytes(out)


def write_t7_tensor(path: Path | str, array: np.ndarray,
                    dtype: DTypeLike = np.float32) -> Path:
    """Write ``array`` to ``path`` as a Torch7 tensor file (FloatTensor by default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(t7_tensor_bytes(array, dtype))
    return path
