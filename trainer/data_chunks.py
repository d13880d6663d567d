"""Where each stored crop lies in an HDF5 shard file, so that a batch copies its crops straight out of
the memory-mapped file instead of one HDF5 library call per crop.

An HDF5 shard keeps its images one uncompressed chunk per row (landmark_fusion.shards.hdf5). The
library lists every allocated chunk with its file address and stored size in one pass
(``H5Dchunk_iter``, HDF5 >= 1.12.3, h5py's ``DatasetID.chunk_iter``); a raw chunk is the crop's
bytes in C order. Anything else (other chunk shapes, a filter, a chunk of another size, an older
library) is reported as not locatable and the reader keeps the per-chunk HDF5 read.
"""
from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np

from .data_pages import NotLocatable


def raw_one_per_row(images: Any) -> bool:
    """Whether an h5py images dataset stores each row as one unfiltered chunk."""
    return bool(images.chunks == (1, *images.shape[1:]) and images.compression is None
                and not images.fletcher32 and not images.shuffle and images.scaleoffset is None)


class Hdf5ImageIndex:
    """The byte offset of every allocated crop of an HDF5 shard file; ``read(rows)`` copies them out of
    the read-only memory map (which stays valid in a forked worker). :class:`NotLocatable` when the
    images are stored otherwise."""

    def __init__(self, path: str | Path, images: Any) -> None:
        if not raw_one_per_row(images) or images.dtype != np.uint8:
            raise NotLocatable("images not stored as uint8, one unfiltered chunk per row")
        if not hasattr(images.id, "chunk_iter"):
            raise NotLocatable("this HDF5 library cannot list chunks (needs HDF5 >= 1.12.3)")
        self.shape = tuple(int(s) for s in images.shape[1:])
        self.width = int(np.prod(self.shape))
        self.offset_of = np.full(int(images.shape[0]), -1, np.int64)
        odd: list[int] = []

        def visit(info: Any) -> None:
            row = int(info.chunk_offset[0])
            if info.size != self.width or info.filter_mask or info.byte_offset is None:
                odd.append(row)
            elif row < self.offset_of.size:
                self.offset_of[row] = int(info.byte_offset)

        images.id.chunk_iter(visit)
        if odd:
            raise NotLocatable(f"{path}: {len(odd)} image chunks stored filtered or at another size")
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size == 0:
                raise NotLocatable(f"{path}: empty file")
            self._map = np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)
        if (self.offset_of >= 0).any() and int(self.offset_of.max()) + self.width > self._map.size:
            raise NotLocatable(f"{path}: image chunks beyond the end of the file")

    def covers(self, rows: np.ndarray) -> bool:
        """Whether every row of ``rows`` has a stored chunk (an unwritten one reads as the fill value)."""
        return bool((self.offset_of[np.asarray(rows, np.int64)] >= 0).all())

    def read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        out = np.empty((rows.size, *self.shape), np.uint8)
        flat = out.reshape(rows.size, -1)
        offsets = self.offset_of[rows]
        for i in np.argsort(offsets, kind="stable"):  # file order
            o = int(offsets[i])
            flat[i] = self._map[o:o + self.width]
        return out
