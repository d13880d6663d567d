"""The options of one ``fuse build`` (see ``fuse build --help``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..crop_defaults import DEFAULT_MARGIN, DEFAULT_SIZE
from ..shards.crops import DEFAULT_JPEG_QUALITY, RAW
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
    chunk_items: int = 64             # items per task sent to a worker
    part_rows: int = 2000             # Parquet only: rows per part (and between two checkpoints)
    progress: bool = True
    overwrite: bool = False           # replace an earlier output of the build (see output.py)
    corr_dir: str | None = None       # correspondence folder (default: paths.correspondences_dir)
    resume: bool = False              # go on from an interrupted build of the same output (resume.py)
    engine: str = "local"             # where the work runs: "local" (this machine) or "ray"
    ray_address: str | None = None    # the Ray cluster to use (engine "ray"; None: a local one)
    reduced_decode: bool = True       # decode a JPEG at 1/2, 1/4 or 1/8 where its crops allow (crop.py)
    crop_encoding: str = RAW          # how the shards store the crops: "raw" or "jpeg" (shards/crops.py)
    jpeg_quality: int = DEFAULT_JPEG_QUALITY  # JPEG crops only
