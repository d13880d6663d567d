"""What the native-format writers take: one face with its image and its scheme's points.

The writers serve two users: the embedded demo (synthetic mini-databases) and the tests (fixtures for
formats without a real sample). Each writer lays files out exactly as the database distributes them,
so that the matching reader in ``landmark_fusion.sources`` reads them back unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class FixtureFace:
    """A face to write: points in the database's native index order, 0-based pixel centres."""

    image: np.ndarray                 # (H, W, 3) uint8 RGB
    points: np.ndarray                # (K, 2) float64, 0-based, native scheme order
    visible: np.ndarray | None = None  # (K,) bool; None = all visible
    name: str = ""                    # file stem hint (writers make it valid for the layout)
    split: str = "train"              # train | val | test
    yaw: float = math.nan             # degrees, positive = face turned towards image-left
    pose: tuple[float, float, float] | None = None  # (pitch, yaw, roll) radians, for Pose_Para
    points3d: np.ndarray | None = None  # (K, 3) with depth, where a format stores it (pt3d_68)
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific (e.g. aflw21 for AFLW2000-3D)

    def visibility(self) -> np.ndarray:
        if self.visible is None:
            return np.ones(len(self.points), dtype=bool)
        return np.asarray(self.visible, dtype=bool)

    def pose_radians(self) -> tuple[float, float, float]:
        """``(pitch, yaw, roll)`` in radians as the pose-storing formats want them: ``pose`` if
        given, else ``yaw`` (0 when unknown) with pitch and roll 0."""
        if self.pose is not None:
            pitch, yaw, roll = (float(v) for v in self.pose)
            return pitch, yaw, roll
        yaw = 0.0 if math.isnan(self.yaw) else math.radians(self.yaw)
        return 0.0, yaw, 0.0


def save_rgb(path, image: np.ndarray):
    """Write an RGB uint8 image (format from the suffix: .jpg, .png), creating the folder."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[..., ::-1])):
        raise OSError(f"{path}: could not write the image")
    return path
