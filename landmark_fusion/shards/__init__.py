"""Shard files: the fields (``schema``), the HDF5 and Parquet writers and their lazy readers.

``open_shards(path)`` picks the reader from the path (the format table, ``formats.py``): a
``.h5``/``.hdf5`` file is HDF5, a folder of ``part-*.parquet`` files (or one ``.parquet`` file's
folder) is Parquet.
"""
from __future__ import annotations

import os
from pathlib import Path

from .base import ShardSet
from .formats import FORMATS, by_suffix, file_format, folder_format, shard_format
from .schema import FIELDS, FORMAT_VERSION, META_FIELDS, Sample, ShardInfo, stack_samples


def output_format(path: str | os.PathLike) -> str:
    """The format of a new output at ``path``: by its suffix (``.h5``/``.hdf5`` is HDF5,
    ``X.parquet`` Parquet), else the folder format (Parquet)."""
    fmt = by_suffix(Path(path))
    return (fmt or folder_format()).name


def open_shards(path: str | os.PathLike) -> ShardSet:
    """A lazy, picklable reader of the HDF5 file or Parquet shard folder at ``path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such shard file or folder")
    if path.is_dir():
        return folder_format().reader_class()(path)
    fmt = by_suffix(path) or file_format()
    if fmt.folder:  # one part file: read the whole set around it
        return fmt.reader_class()(path.parent)
    return fmt.reader_class()(path)


def create_writer(path: str | os.PathLike, info: ShardInfo, fmt: str | None = None,
                  compression: str | None = None):
    """A writer (``append(batch)``, ``close()``, ``abort()``) for a new output at ``path``."""
    chosen = shard_format(fmt or output_format(path))
    options = {"compression": compression}
    return chosen.writer_class()(path, info, **{key: options[key] for key in chosen.writer_options})


__all__ = ["FIELDS", "FORMATS", "FORMAT_VERSION", "META_FIELDS", "Sample", "ShardInfo", "ShardSet",
           "create_writer", "open_shards", "output_format", "stack_samples"]
