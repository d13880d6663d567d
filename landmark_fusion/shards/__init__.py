"""Shard files: the fields (``schema``), the HDF5 and Parquet writers and their lazy readers.

``open_shards(path)`` picks the reader from the path: a ``.h5``/``.hdf5`` file is HDF5, a folder of
``part-*.parquet`` files (or one ``.parquet`` file's folder) is Parquet.
"""
from __future__ import annotations

import os
from pathlib import Path

from .base import ShardSet
from .schema import (FIELDS, FORMAT_VERSION, META_FIELDS, Sample, ShardInfo,
                     stack_samples)

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def output_format(path: str | os.PathLike) -> str:
    """``hdf5`` for a ``.h5``/``.hdf5`` path, else ``parquet`` (a folder or ``X.parquet``)."""
    return "hdf5" if Path(path).suffix.lower() in HDF5_SUFFIXES else "parquet"


def open_shards(path: str | os.PathLike) -> ShardSet:
    """A lazy, picklable reader of the HDF5 file or Parquet shard folder at ``path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such shard file or folder")
    if path.is_dir():
        from .parquet import ParquetShardSet

        return ParquetShardSet(path)
    if path.suffix.lower() == ".parquet":  # one part file: read the whole set around it
        from .parquet import ParquetShardSet

        return ParquetShardSet(path.parent)
    from .hdf5 import HDF5ShardSet

    return HDF5ShardSet(path)


def create_writer(path: str | os.PathLike, info: ShardInfo, fmt: str | None = None,
                  compression: str | None = None):
    """A writer (``append(batch)``, ``close()``, ``abort()``) for a new output at ``path``."""
    fmt = fmt or output_format(path)
    if fmt == "hdf5":
        from .hdf5 import HDF5Writer

        return HDF5Writer(path, info, compression=compression)
    if fmt == "parquet":
        from .parquet import ParquetWriter

        return ParquetWriter(path, info)
    raise ValueError(f"unknown shard format {fmt!r} (hdf5 or parquet)")


__all__ = ["FIELDS", "FORMAT_VERSION", "META_FIELDS", "Sample", "ShardInfo", "ShardSet",
           "create_writer", "open_shards", "output_format", "stack_samples"]
