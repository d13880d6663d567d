"""The shard formats, one record each: the name, the path suffixes, the writer and the reader.

``open_shards``, ``create_writer``, ``output_format`` and ``fuse build --format`` read this table;
the writer and reader classes are named as ``"module:Class"`` and imported when used, so that
choosing a format never imports h5py or pyarrow.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ShardFormat:
    """One shard format.

    ``suffixes``: the (lower-case) suffixes of the paths that are this format; ``folder``: the
    format is a folder of part files (a folder opens as it, and one of its part files opens the
    whole folder around it); ``writer_options``: the keywords of ``create_writer`` its writer
    takes besides ``(path, info)``.
    """

    name: str
    suffixes: tuple[str, ...]
    writer: str
    reader: str
    folder: bool = False
    writer_options: tuple[str, ...] = ()

    def writer_class(self) -> Any:
        module, _, name = self.writer.partition(":")
        return getattr(import_module(module), name)

    def reader_class(self) -> Any:
        module, _, name = self.reader.partition(":")
        return getattr(import_module(module), name)


FORMATS: tuple[ShardFormat, ...] = (
    ShardFormat("hdf5", (".h5", ".hdf5", ".hdf"), "landmark_fusion.shards.hdf5:HDF5Writer",
                "landmark_fusion.shards.hdf5:HDF5ShardSet", writer_options=("compression",)),
    ShardFormat("parquet", (".parquet",), "landmark_fusion.shards.parquet:ParquetWriter",
                "landmark_fusion.shards.parquet:ParquetShardSet", folder=True),
)

#: ``fuse build --format`` choices besides ``auto``
FORMAT_NAMES = tuple(fmt.name for fmt in FORMATS)


def shard_format(name: str) -> ShardFormat:
    """The format called ``name``; ValueError naming the known ones."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown shard format {name!r} ({' or '.join(FORMAT_NAMES)})")


def by_suffix(path: Path) -> ShardFormat | None:
    """The format whose suffixes include ``path``'s, if any."""
    suffix = path.suffix.lower()
    return next((fmt for fmt in FORMATS if suffix in fmt.suffixes), None)


def folder_format() -> ShardFormat:
    """The (first) format written as a folder: a new output path without a known suffix."""
    return next(fmt for fmt in FORMATS if fmt.folder)


def file_format() -> ShardFormat:
    """The (first) format written as one file: an existing file without a known suffix."""
    return next(fmt for fmt in FORMATS if not fmt.folder)
