"""What a training process reads of its rows, and how: the small per-row fields once into memory, the
images in batches along the stored chunk layout.

HDF5 shards keep one chunk per image (landmark_fusion.shards.hdf5): each uncompressed chunk is copied
out of the memory-mapped file at the address the library lists for it (:mod:`trainer.data_chunks`), or,
where the library cannot list chunks, read with ``read_direct_chunk`` without h5py's selection
machinery. A Parquet set's raw crops are copied out of the memory-mapped part files at the offsets
found in their pages (:mod:`trainer.data_pages`) instead of decoding a 16-crop row group per crop. Anything else (HDF5
compression, another Parquet layout) falls back to the shard set's own batch read (by row group).
The reader opens its file lazily in the process that reads (a changed
process id reopens) and drops the handle when pickled, as DataLoader workers need.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .data_chunks import Hdf5ImageIndex, raw_one_per_row
from .data_pages import NotLocatable, ParquetImageIndex

#: Direct readers whose read-only memory maps stay valid in a forked child.
MAPPED = (Hdf5ImageIndex, ParquetImageIndex)

#: Per-row fields a training batch needs besides the image, kept in memory.
SMALL_FIELDS = ("landmarks", "mask", "norm_size", "source", "yaw")
#: Rows per read while loading the small fields of an HDF5 file (contiguous ranges).
RANGE_ROWS = 65536


def load_small_fields(shards: Any, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`SMALL_FIELDS` of ``rows`` (in that order). HDF5: contiguous ranges, the selected rows
    kept; Parquet: only the row groups that hold ``rows`` (a rank reads its own share)."""
    rows = np.asarray(rows, np.int64)
    if shards.format == "parquet" or rows.size == 0:
        return shards.get_batch(rows, SMALL_FIELDS)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SMALL_FIELDS}
    for start in range(int(sorted_rows[0]), int(sorted_rows[-1]) + 1, RANGE_ROWS):
        stop = min(start + RANGE_ROWS, int(sorted_rows[-1]) + 1)
        first, last = np.searchsorted(sorted_rows, [start, stop])
        if first == last:
            continue
        columns = shards.get_batch(np.arange(start, stop), SMALL_FIELDS)  # one contiguous slice per field
        for name in SMALL_FIELDS:
            parts[name].append(columns[name][sorted_rows[first:last] - start])
    out = {}
    for name in SMALL_FIELDS:
        values = np.concatenate(parts[name])
        restored = np.empty_like(values)
        restored[order] = values
        out[name] = restored
    return out


class ImageReader:
    """Crops of any rows of a shard set as one (n,S,S,3) uint8 array, in the order asked."""

    def __init__(self, shards: Any, rows: np.ndarray | None = None) -> None:
        """``rows``: the rows this reader will be asked for (a Parquet set indexes only their row groups)."""
        self.shards = shards
        self.rows = rows
        self._file: Any = None
        self._pid: int | None = None
        self._direct: Any = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": None, "_direct": None}

    def _open(self, probe: int) -> None:
        """This process's direct access: the byte offsets of an HDF5 file's or a Parquet set's crops
        (checked on a row this reader reads); else the HDF5 images dataset when its chunks can be
        copied as they are; else (None) the shard set's own batch read."""
        self._pid, self._file, self._direct = os.getpid(), None, None
        index: Hdf5ImageIndex | ParquetImageIndex | None = None
        if self.shards.format == "hdf5":
            import h5py

            self._file = h5py.File(self.shards.path, "r")
            images = self._file["images"]
            if raw_one_per_row(images):
                self._direct = images  # the per-chunk read, unless the index below checks out
            try:
                index = Hdf5ImageIndex(self.shards.path, images)
            except NotLocatable:
                return
        elif self.shards.format == "parquet":
            try:
                index = ParquetImageIndex(self.shards, self.rows)
            except NotLocatable:
                return
        if index is None or not index.covers(np.array([probe])) or not np.array_equal(
                index.read(np.array([probe])), self.shards.get_batch([probe], ("images",))["images"]):
            return  # located bytes that are not the crop
        self._direct = index
        if self._file is not None:
            self._file.close()  # the index reads through its own map
            self._file = None

    def read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        n = len(self.shards)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        if rows.size == 0:
            return self.shards.get_batch(rows, ("images",))["images"]
        if self._pid != os.getpid():
            if isinstance(self._direct, MAPPED):
                self._pid = os.getpid()
            else:
                self._open(int(rows[0]))
        if self._direct is None:
            return self.shards.get_batch(rows, ("images",))["images"]
        if isinstance(self._direct, MAPPED):
            if not self._direct.covers(rows):
                return self.shards.get_batch(rows, ("images",))["images"]
            return self._direct.read(rows)
        images = self._direct
        out = np.empty((rows.size, *images.shape[1:]), np.uint8)
        flat = out.reshape(rows.size, -1)
        for i in np.argsort(rows, kind="stable"):  # file order: neighbouring chunks are read together
            images.id.read_direct_chunk((int(rows[i]), 0, 0, 0), out=flat[i])
        return out

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid, self._direct = None, None, None
