"""Write faces as 300W-LP: ``<DB>/<DB>_<id>_<face>_<k>.{jpg,mat}``, ``<DB>_Flip/`` and
``landmarks/<DB>/<name>_pts.mat`` (docs/formats.md §3), quirks included, so the reader's handling of them
is exercised:

* ``pt2d`` of a profiled image (k > 0) is the k = 0 copy (stale) when the k = 0 face of the same
  ``<DB>_<id>_<face>`` is written in the same call; its true points go to ``landmarks/``.
* ``_Flip`` copies mirror the image and x (``x' = W + 1 - x``, 1-based) without re-ordering the
  indices, negate yaw and roll, and store ``Shape_Para`` / ``Exp_Para`` as float32, like the real files.

Keys, shapes, dtypes: ``pt2d`` (2, 68) float64, ``roi`` (1, 4) int16, ``Illum_Para`` (1, 10) float64,
``Color_Para`` (1, 7) float32, ``Tex_Para`` / ``Shape_Para`` (199, 1) and ``Exp_Para`` (29, 1) float64,
``Pose_Para`` (1, 7) float32 ``[pitch, yaw, roll, tx, ty, tz, scale]``. ``_pts.mat`` (no real file
seen): ``pts_2d`` and ``pts_3d`` (68, 2) float64, 1-based.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from landmark_fusion.sources.matfiles import save_mat
from landmark_fusion.sources.w300_lp import FLIP_SUFFIX, LANDMARKS_DIR, parse_name

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb


def model_parameters(face: FixtureFace, flipped: bool = False) -> dict[str, np.ndarray]:
    """The 3DMM fit keys of a 3DDFA-pipeline ``.mat`` (zero coefficients, the face's pose)."""
    pitch, yaw, roll = face.pose_radians()
    if flipped:
        yaw, roll = -yaw, -roll
    height, width = face.image.shape[:2]
    translation = face.extra.get("translation", (width / 2.0, height / 2.0, 0.0))
    scale = float(face.extra.get("scale", 1e-3))
    coefficient = np.float32 if flipped else np.float64
    return {
        "pt2d": np.zeros((2, 68)),
        "roi": np.asarray(face.extra.get("roi", (0, 0, width, height)), dtype=np.int16).reshape(1, 4),
        "Illum_Para": np.zeros((1, 10)),
        "Color_Para": np.array([[1, 1, 1, 0, 0, 0, 1]], dtype=np.float32),
        "Tex_Para": np.zeros((199, 1)),
        "Shape_Para": np.zeros((199, 1), dtype=coefficient),
        "Exp_Para": np.zeros((29, 1), dtype=coefficient),
        "Pose_Para": np.array([[pitch, yaw, roll, *translation, scale]], dtype=np.float32),
    }


def write_300w_lp(root: Path, faces: Sequence[FixtureFace], flip: bool = True,
                  landmarks: bool = True) -> list[Path]:
    """Write faces (68 fixed points, 0-based, native order; ``name`` = ``<DB>_<id>_<face>_<k>``).

    ``flip`` adds the ``<DB>_Flip`` copy of every face; ``landmarks`` writes
    ``landmarks/<DB>/<name>_pts.mat`` for every (non-flipped) face. Returns the ``.mat`` paths.
    """
    root = Path(root)
    names = [face.name or f"HELEN_{number + 1}_1_0" for number, face in enumerate(faces)]
    first_pose: dict[str, np.ndarray] = {}
    for name, face in zip(names, faces, strict=True):
        identity, face_index, k = parse_name(name, name)
        if k == 0:
            first_pose[f"{identity}_{face_index}"] = np.asarray(face.points, dtype=np.float64) + 1.0

    written = []
    for name, face in zip(names, faces, strict=True):
        if not face.visibility().all():
            raise ValueError("300W-LP annotates all 68 points; every point must be visible")
        identity, face_index, _ = parse_name(name, name)
        db = identity.split("_", 1)[0]
        true_points = np.asarray(face.points, dtype=np.float64) + 1.0
        pt2d = first_pose.get(f"{identity}_{face_index}", true_points)  # stale copy for k > 0
        width = face.image.shape[1]

        arrays = model_parameters(face)
        arrays["pt2d"] = np.ascontiguousarray(pt2d.T)
        save_rgb(root / db / f"{name}.jpg", face.image)
        written.append(save_mat(root / db / f"{name}.mat", arrays))
        if landmarks:
            save_mat(root / LANDMARKS_DIR / db / f"{name}_pts.mat",
                     {"pts_2d": true_points.copy(), "pts_3d": true_points.copy()})
        if flip:
            mirrored = np.column_stack([width + 1.0 - pt2d[:, 0], pt2d[:, 1]])  # order kept
            arrays = model_parameters(face, flipped=True)
            arrays["pt2d"] = np.ascontiguousarray(mirrored.T)
            save_rgb(root / (db + FLIP_SUFFIX) / f"{name}.jpg", face.image[:, ::-1])
            written.append(save_mat(root / (db + FLIP_SUFFIX) / f"{name}.mat", arrays))
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/w300_lp_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """Series of a near-frontal original and profiled copies with the yaw pushed outwards (the
    ``_Flip`` twins are made by the writer)."""
    dbs = ("HELEN", "AFW", "LFPW", "IBUG")
    series = max(1, count // 3)
    for i in range(series):
        y0 = rng.uniform(-30, 30)
        step = math.copysign(rng.uniform(15, 25), y0 if y0 else 1.0)
        yaws = [float(np.clip(y0 + k * step, -90, 90)) for k in range(3)]
        jobs.add(i, 450, 450, yaws, "train", f"{dbs[i % len(dbs)]}_{100000 + i}_1")


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 68 fixed points with their depth; profiling step k names the file (``<name>_<k>``)."""
    points = face.native("ibug68_fixed")
    return face.fixture(points.points, points3d=points.points3d, name=f"{face.job.name}_{face.k}")


def write_demo(root: Path, faces: Sequence[FixtureFace]) -> None:
    """The release with ``_Flip`` twins and the ``landmarks/`` folder."""
    write_300w_lp(root, faces, flip=True, landmarks=True)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_demo)
