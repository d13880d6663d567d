"""The shard fields, shared by the HDF5 and Parquet formats (documented in docs/shards.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Bumped whenever a field or attribute changes meaning or layout.
FORMAT_VERSION = 1

#: Per-row fields: name -> (dtype, shape of one row given crop size S and landmark count L).
ARRAY_FIELDS: dict[str, tuple[str, Any]] = {
    "images": ("uint8", lambda S, L: (S, S, 3)),
    "landmarks": ("float32", lambda S, L: (L, 2)),
    "mask": ("bool", lambda S, L: (L,)),
    "source": ("int16", lambda S, L: ()),
    "scheme": ("int16", lambda S, L: ()),
    "crop_to_image": ("float32", lambda S, L: (2, 3)),
    "norm_size": ("float32", lambda S, L: ()),
    "yaw": ("float32", lambda S, L: ()),
}
#: Per-row string fields.
STRING_FIELDS = ("split", "sample_id")
#: Every per-row field, in storage order.
FIELDS = tuple(ARRAY_FIELDS) + STRING_FIELDS
#: The fields without the pixels (what ``ShardSet.meta`` returns).
META_FIELDS = ("source", "scheme", "split", "sample_id", "yaw", "norm_size")
#: Values of ``split``.
SPLITS = ("train", "val", "test")


@dataclass
class ShardInfo:
    """File-level attributes of a shard set."""

    landmark_names: list[str]
    source_names: list[str]
    scheme_names: list[str]
    crop_size: int
    margin: float
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_attrs(self) -> dict[str, Any]:
        return {"landmark_names": list(self.landmark_names), "source_names": list(self.source_names),
                "scheme_names": list(self.scheme_names), "crop_size": int(self.crop_size),
                "margin": float(self.margin), "format_version": int(self.format_version), **self.extra}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> ShardInfo:
        version = int(attrs["format_version"])
        if version > FORMAT_VERSION:
            raise ValueError(f"shard format version {version} is newer than this reader "
                             f"({FORMAT_VERSION})")
        known = {"landmark_names", "source_names", "scheme_names", "crop_size", "margin",
                 "format_version"}
        return cls([str(n) for n in attrs["landmark_names"]], [str(n) for n in attrs["source_names"]],
                   [str(n) for n in attrs["scheme_names"]], int(attrs["crop_size"]),
                   float(attrs["margin"]), version,
                   {k: v for k, v in attrs.items() if k not in known})


@dataclass
class Sample:
    """One shard row: a cropped face with its canonical targets."""

    image: np.ndarray          # (S, S, 3) uint8 RGB
    landmarks: np.ndarray      # (L, 2) float32 crop pixels
    mask: np.ndarray           # (L,) bool
    source: int                # code into source_names
    scheme: int                # code into scheme_names
    split: str
    sample_id: str
    crop_to_image: np.ndarray  # (2, 3) float32
    norm_size: float           # crop pixels
    yaw: float = math.nan      # degrees


def empty_batch(n: int, size: int, num_landmarks: int, with_images: bool = True
                ) -> dict[str, np.ndarray]:
    """Preallocated column arrays for ``n`` rows (``images`` left out unless ``with_images``)."""
    batch: dict[str, np.ndarray] = {}
    for name, (dtype, shape) in ARRAY_FIELDS.items():
        if name == "images" and not with_images:
            continue
        batch[name] = np.zeros((n, *shape(size, num_landmarks)), dtype=dtype)
    for name in STRING_FIELDS:
        batch[name] = np.empty(n, dtype=object)
    return batch


def stack_samples(samples: list[Sample], size: int, num_landmarks: int,
                  images: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Column arrays of a list of rows (the unit both writers append).

    ``images``: an (n, size, size, 3) uint8 array to fill instead of a new one (e.g. shared memory).
    """
    batch = empty_batch(len(samples), size, num_landmarks, with_images=images is None)
    if images is not None:
        batch["images"] = images
    for i, row in enumerate(samples):
        batch["images"][i] = row.image
        batch["landmarks"][i] = row.landmarks
        batch["mask"][i] = row.mask
        batch["source"][i] = row.source
        batch["scheme"][i] = row.scheme
        batch["crop_to_image"][i] = row.crop_to_image
        batch["norm_size"][i] = row.norm_size
        batch["yaw"][i] = row.yaw
        batch["split"][i] = row.split
        batch["sample_id"][i] = row.sample_id
    return batch
