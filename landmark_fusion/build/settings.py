"""The options of one ``fuse build`` (see ``fuse build --help``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..crop import DEFAULT_MARGIN, DEFAULT_SIZE
from ..sources.base import DEFAULT_MAX_PIXELS


@dataclass
class BuildSettings:
    """Options of one build (see ``fuse build --help``)."""

    crop_size: int = DEFAULT_SIZE
    margin: float = DEFAULT_MARGIN
    max_pixels: int = DEFAULT_MAX_PIXELS
    limit: int | None = None          # work items per database
    workers: int = 0                  # 0 = in this process
    strict: bool = False
    compression: str | None = None   # HDF5 only: None or "lzf"
    chunk_items: int = 8              # items per task sent to a worker
    progress: bool = True
    overwrite: bool = False           # replace an earlier output of the build (see output.py)
    corr_dir: str | None = None       # correspondence folder (default: paths.correspondences_dir)
