"""LS3D-W reader: ``<name>.t7`` Torch7 68x2 tensors beside ``<name>.jpg`` (source: docs/formats.md §5).

Folders read, and the split each gets:

=============================  =======  ==============================================
``new_dataset/<n>.t7``         test     the "Balanced" set (7,200 faces, 3 yaw ranges)
``300VW-3D/Cat{A,B,C}/<v>/…``  train    video frames; the paper trains on them
``300W-Testset-3D/…``          test     re-annotated 300-W test faces
``Menpo-3D/…``                 test
``AFLW2000-3D-Reannotated/…``  test
=============================  =======  ==============================================

The Balanced set's yaw range is not stored in the files. The only known convention assigns it by
file number: ``n % 3 == 1`` → 0–30°, ``2`` → 30–60°, ``0`` → 60–90° (third-party,
``hzh8311/pyhowfar`` ``datasets/LS3DW.py``); it is recorded in ``extra['yaw_bucket']`` with
``extra['yaw_bucket_convention']`` naming its origin, and ``yaw`` itself stays NaN.

Coordinates are taken as 0-based pixels (Bulat's training code adds 1 before its 1-based crop
transform, docs/formats.md §5 [inferred]); option ``one_based=True`` subtracts 1 instead.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .base import RawFace, Rejected, SourceError, check_points, image_size
from .layout import (
    ROOT_ID,
    annotated_image,
    guarded,
    image_id_beside,
    list_dirs,
    passes_rejections,
    walk_files,
    wrong_layout,
)
from .torch7 import load_t7_tensor

NUM_POINTS = 68
IMAGE_SUFFIXES = (".jpg", ".png")

#: folder below the root -> split (in reading order)
FOLDERS: dict[str, str] = {
    "new_dataset": "test",
    "300VW-3D": "train",
    "300W-Testset-3D": "test",
    "Menpo-3D": "test",
    "AFLW2000-3D-Reannotated": "test",
}
BALANCED_FOLDER = "new_dataset"

#: file number modulo 3 -> yaw range in degrees (source: hzh8311/pyhowfar datasets/LS3DW.py)
YAW_BUCKETS = {1: "0-30", 2: "30-60", 0: "60-90"}
YAW_BUCKET_CONVENTION = "hzh8311/pyhowfar LS3DW.py modulo rule"


def yaw_bucket(stem: str) -> str | None:
    """The Balanced-set yaw range of file ``<stem>.t7`` by the modulo rule (None if not a number)."""
    return YAW_BUCKETS[int(stem) % 3] if stem.isdigit() else None


def landmarks_from_tensor(tensor: np.ndarray, path: Path) -> np.ndarray:
    """The (68, 2) x, y array of an LS3D-W tensor (leading singleton axes and a depth column dropped)."""
    while tensor.ndim > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim == 2 and tensor.shape == (2, NUM_POINTS):
        tensor = tensor.T
    if tensor.ndim == 2 and tensor.shape == (NUM_POINTS, 3):
        tensor = tensor[:, :2]
    if tensor.ndim != 2 or tensor.shape != (NUM_POINTS, 2):
        raise SourceError("wrong_point_count",
                          f"{path}: expected a {NUM_POINTS}x2 tensor, got shape {tuple(tensor.shape)}")
    return np.ascontiguousarray(tensor, dtype=np.float64)


class LS3DWSource:
    """Reads the LS3D-W ``.t7`` landmark files under ``root`` (scheme ``ibug68_fixed``)."""

    name = "ls3d_w"
    scheme = "ibug68_fixed"

    def __init__(self, root: Path, one_based: bool = False,
                 folders: Iterable[str] | None = None) -> None:
        self.root = Path(root)
        self.one_based = bool(one_based)
        chosen = list(FOLDERS) if folders is None else list(folders)
        unknown = [f for f in chosen if f not in FOLDERS]
        if unknown:
            raise ValueError(f"unknown LS3D-W folders {unknown}; known: {', '.join(FOLDERS)}")
        self.folders = tuple(f for f in FOLDERS if f in chosen)

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.t7`` paths, folder by folder, sorted per directory.

        A folder of the root that is none of LS3D-W's is named as ``wrong_layout``.
        """
        try:
            present = list_dirs(self.root)
        except OSError as error:
            yield Rejected(self.name, ROOT_ID, "unreadable_folder",
                           f"{self.root}: cannot list the folder ({error.strerror or error})")
            return
        if not set(self.folders) & set(present):
            yield wrong_layout(self.name, self.root, "any of the folders "
                               + ", ".join(f"{f}/" for f in self.folders) + " with <name>.t7 + <name>.jpg")
            return
        for folder in present:
            if folder not in FOLDERS and not folder.startswith("."):
                yield Rejected(self.name, folder + "/", "wrong_layout",
                               f"{self.root / folder}: not a folder of LS3D-W (expected "
                               f"{', '.join(FOLDERS)}); not read")
        for folder in self.folders:
            if folder in present:
                yield from walk_files(self.root, (".t7",), self.name, folder=self.root / folder)

    def sample_id(self, item: str) -> str:
        return image_id_beside(self.root, item, IMAGE_SUFFIXES)

    @passes_rejections
    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, item, lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        t7_path, image_name, image_path = annotated_image(self.root, item, IMAGE_SUFFIXES)
        sample_id = image_name
        points = landmarks_from_tensor(load_t7_tensor(t7_path), t7_path)
        if self.one_based:
            points -= 1.0
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, t7_path, image_size(image_path))
        folder = item.split("/", 1)[0]
        extra: dict[str, object] = {"subset": folder}
        if folder == BALANCED_FOLDER:
            bucket = yaw_bucket(t7_path.stem)
            if bucket is not None:
                extra["yaw_bucket"] = bucket
                extra["yaw_bucket_convention"] = YAW_BUCKET_CONVENTION
        return [RawFace(self.name, sample_id, image_path, self.scheme, points, visible,
                        FOLDERS[folder], yaw=math.nan, extra=extra)]
