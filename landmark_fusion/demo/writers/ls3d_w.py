"""Write faces as LS3D-W: ``<folder>/…/<name>.t7`` (Torch7 68x2 FloatTensor) beside ``<name>.jpg``.

Layout as read by :mod:`landmark_fusion.sources.ls3d_w` (source: docs/formats.md §5): the Balanced set
``new_dataset/<n>.{jpg,t7}``, video frames ``300VW-3D/<CatA|CatB|CatC>/<video>/<frame>.{jpg,t7}``
and the other test folders ``<folder>/<name>.{jpg,t7}``. Points are stored 0-based.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from landmark_fusion.sources.ls3d_w import BALANCED_FOLDER, FOLDERS, YAW_BUCKETS

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb
from .torch7 import write_t7_tensor

VIDEO_FOLDER = "300VW-3D"


def bucket_code(yaw: float) -> int | None:
    """The file-number remainder (mod 3) the modulo rule gives to ``|yaw|`` (None if yaw unknown)."""
    if not math.isfinite(yaw):
        return None
    low = min(int(abs(yaw) // 30), 2) * 30
    wanted = f"{low}-{low + 30}"
    return next(code for code, name in YAW_BUCKETS.items() if name == wanted)


def balanced_numbers(yaws: Sequence[float], first: int = 1) -> list[int]:
    """Increasing file numbers, each matching its face's yaw range under the modulo rule."""
    numbers, n = [], first
    for yaw in yaws:
        code = bucket_code(yaw)
        if code is not None:
            while n % 3 != code:
                n += 1
        numbers.append(n)
        n += 1
    return numbers


def write_ls3d_w(root: Path, faces: Sequence[FixtureFace], folder: str = BALANCED_FOLDER,
                 dtype: str = "float32") -> list[Path]:
    """Write ``faces`` into one LS3D-W folder; returns the ``.t7`` paths.

    ``new_dataset`` numbers files so that the modulo rule recovers each face's yaw range (faces
    with unknown yaw take the next number); ``300VW-3D`` places faces in
    ``extra['category']`` (default ``CatA``) / ``extra['video']`` (default ``001``) with frames
    numbered ``000001``…; other folders use ``face.name`` or ``image_<i>``.
    """
    if folder not in FOLDERS:
        raise ValueError(f"unknown LS3D-W folder {folder!r}; known: {', '.join(FOLDERS)}")
    root = Path(root)
    if folder == BALANCED_FOLDER:
        stems = [str(n) for n in balanced_numbers([face.yaw for face in faces])]
        relative = [Path(folder) / stem for stem in stems]
    elif folder == VIDEO_FOLDER:
        relative = [Path(folder) / face.extra.get("category", "CatA") / face.extra.get("video", "001")
                    / f"{i + 1:06d}" for i, face in enumerate(faces)]
    else:
        relative = [Path(folder) / (face.name or f"image_{i + 1:04d}") for i, face in enumerate(faces)]
    written = []
    for face, rel in zip(faces, relative, strict=True):
        if len(face.points) != 68:
            raise ValueError(f"LS3D-W stores 68 points, got {len(face.points)}")
        save_rgb(root / rel.with_suffix(".jpg"), face.image)
        written.append(write_t7_tensor(root / rel.with_suffix(".t7"),
                                       np.asarray(face.points, dtype=np.float64), np.dtype(dtype)))
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/ls3d_w_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """A yaw-balanced test set (equal numbers in 0-30, 30-60, 60-90) and a short 300VW-3D style
    clip (training)."""
    for i in range(count):
        if i < (2 * count) // 3:
            low = 30 * (i % 3)
            jobs.add(i, 400, 400, [math.copysign(rng.uniform(low, low + 30), rng.uniform(-1, 1))],
                     "test", "", folder=BALANCED_FOLDER)
        else:
            jobs.add(i, 360, 480, [-30 + 60 * (i % 10) / 10], "train", "", folder=VIDEO_FOLDER,
                     category="CatA", video="001")


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 68 fixed points."""
    return face.fixture(face.native("ibug68_fixed").points)


def write_demo(root: Path, faces: Sequence[FixtureFace]) -> None:
    """Each face into the folder its job named."""
    for folder in (BALANCED_FOLDER, VIDEO_FOLDER):
        write_ls3d_w(root, [face for face in faces if face.extra.get("folder") == folder], folder=folder)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_demo)
