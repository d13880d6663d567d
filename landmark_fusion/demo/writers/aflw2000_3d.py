"""Write faces as AFLW2000-3D: ``imageNNNNN.mat`` beside ``imageNNNNN.jpg`` (docs/formats.md §4).

Keys, shapes and dtypes are those of the real files: ``pt3d_68`` (3, 68) float32 (1-based x, y +
depth), ``pt2d`` (2, 21) float64 (AFLW points, missing = (-1, 452)), ``Pose_Para`` (1, 7) float32,
``Shape_Para`` (199, 1), ``Exp_Para`` (29, 1), ``Tex_Para`` (199, 1), ``Illum_Para`` (1, 10) float64,
``Color_Para`` (1, 7) float32, ``roi`` (1, 4) int16.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from landmark_fusion.sources.matfiles import save_mat

from ..plan import DemoDatabase, JobList, RenderedFace
from .aflw import MISSING_POINT, marked_rows
from .base import FixtureFace, save_rgb
from .w300_lp import model_parameters

MISSING = MISSING_POINT


def aflw21_array(face: FixtureFace) -> np.ndarray:
    """The (2, 21) ``pt2d`` array of a face: ``extra['aflw21_points']`` (0-based) with the missing
    marker where ``extra['aflw21_visible']`` is False; all missing if the face has none."""
    points = face.extra.get("aflw21_points")
    if points is None:
        return np.tile(np.array(MISSING)[:, None], (1, 21))
    return marked_rows(points, face.extra.get("aflw21_visible", np.ones(21, bool)))


def write_aflw2000_3d(root: Path, faces: Sequence[FixtureFace], folder: str = "AFLW2000") -> list[Path]:
    """Write each face (68 fixed points, 0-based) as ``<root>/<folder>/imageNNNNN.{jpg,mat}``."""
    out = Path(root) / folder
    written = []
    for number, face in enumerate(faces):
        stem = face.name or f"image{number + 2:05d}"
        save_rgb(out / f"{stem}.jpg", face.image)
        depth = (np.zeros(len(face.points)) if face.points3d is None
                 else np.asarray(face.points3d, dtype=np.float64)[:, 2])
        pt3d = np.vstack([(np.asarray(face.points, dtype=np.float64) + 1.0).T, depth[None]])
        arrays = model_parameters(face)
        arrays["pt2d"] = aflw21_array(face)
        arrays["pt3d_68"] = pt3d.astype(np.float32)
        written.append(save_mat(out / f"{stem}.mat", arrays))
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/aflw2000_3d_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """450-px test images over the full yaw range."""
    for i in range(count):
        jobs.add(i, 450, 450, [rng.uniform(-90, 90)], "test", f"image{2 + 3 * i:05d}")


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 68 fixed points with their depth, and the visible AFLW points of ``pt2d``."""
    points = face.native("ibug68_fixed")
    aflw21 = face.native("aflw21")
    return face.fixture(points.points, points3d=points.points3d, aflw21_points=aflw21.points,
                        aflw21_visible=aflw21.visible)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_aflw2000_3d)
