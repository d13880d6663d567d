"""AFLW2000-3D reader: ``imageNNNNN.mat`` beside ``imageNNNNN.jpg`` in one folder (formats.md §4).

* ``pt3d_68`` (3, 68): the 68 "fixed" points (``ibug68_fixed``), x/y in 1-based pixels of the
  450x450 image (made 0-based here), z depth in the same pixel scale (kept in ``extra['depth']``,
  larger = closer to the camera). Points may lie outside the image; they are all annotated.
* ``pt2d`` (2, 21): the original AFLW 21 points (AFLW order, formats.md §1.1), missing ones stored as
  (-1, 452); kept 0-based in ``extra['aflw21_points']`` (NaN where missing) and
  ``extra['aflw21_visible']`` for the AFLW-protocol evaluation.
* Yaw = degrees(``Pose_Para[0][1]``), positive = towards image-left. Split: ``test`` (paper Table 1).

The root may be the image folder itself or hold it as ``AFLW2000/`` (the name of the common copies);
option ``folder`` names another sub-folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from .aflw import MISSING_X, unmark_points  # noqa: F401 - MISSING_X: the pt2d marker, formats.md §4
from .base import RawFace, Rejected, check_points, safe_join
from .layout import guarded, require_image, walk_files
from .matfiles import load_mat, pose_yaw_degrees, require_finite

NUM_POINTS = 68
AFLW21_POINTS = 21
DEFAULT_FOLDER = "AFLW2000"


class AFLW2000Source:
    """Reads AFLW2000-3D (scheme ``ibug68_fixed``)."""

    name = "aflw2000_3d"
    scheme = "ibug68_fixed"

    def __init__(self, root: Path, folder: str | None = None, split: str = "test") -> None:
        self.root = Path(root)
        self.split = split
        if folder is None:
            folder = DEFAULT_FOLDER if (self.root / DEFAULT_FOLDER).is_dir() else ""
        self.folder = folder

    def items(self) -> Iterator[str]:
        """Root-relative ``.mat`` paths of the image folder (no recursion), sorted."""
        start = self.root / self.folder
        for relative in walk_files(self.root, (".mat",), folder=start):
            if Path(relative).parent == Path(self.folder):
                yield relative

    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, Path(item).with_suffix(".jpg").as_posix(), lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        mat_path = safe_join(self.root, item)
        image_name = Path(item).with_suffix(".jpg")
        image_path = require_image(safe_join(self.root, image_name))
        arrays = load_mat(mat_path, {"pt3d_68": (3, NUM_POINTS), "Pose_Para": (1, 7)},
                          {"pt2d": (2, AFLW21_POINTS), "roi": (1, 4)})
        require_finite(arrays["Pose_Para"], mat_path, "Pose_Para")
        pt3d = arrays["pt3d_68"].astype(np.float64)
        points = pt3d[:2].T - 1.0  # 1-based MATLAB -> 0-based
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, mat_path)

        extra: dict = {"depth": pt3d[2].copy()}
        if "pt2d" in arrays:
            extra["aflw21_points"], extra["aflw21_visible"] = unmark_points(arrays["pt2d"].T)
        if "roi" in arrays:
            extra["roi"] = arrays["roi"].reshape(4).astype(np.int64)
        return [RawFace(self.name, image_name.as_posix(), image_path, self.scheme, points, visible,
                        self.split, yaw=pose_yaw_degrees(arrays["Pose_Para"]), extra=extra)]
