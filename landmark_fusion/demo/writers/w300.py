"""Write faces as a 300W release: ``<folder>/<name>.pts`` beside ``<name>.png|.jpg`` (docs/formats.md §2)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from landmark_fusion.sources.pts import format_pts

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb

#: default folder by split: training faces go to LFPW's train set, test faces to the private set
FOLDER_BY_SPLIT = {"train": "lfpw/trainset", "val": "helen/testset", "test": "01_Indoor"}


def write_300w(root: Path, faces: Iterable[FixtureFace]) -> list[Path]:
    """Write each face as one image + ``.pts`` (1-based, 6 decimals, no final newline).

    ``faces`` may be a generator: one face is held at a time.

    The folder comes from ``face.extra['folder']`` or the split; LFPW folders get ``.png``
    images, the others ``.jpg``, as in the release. Returns the ``.pts`` paths.
    """
    root = Path(root)
    written = []
    for number, face in enumerate(faces):
        if not face.visibility().all():
            raise ValueError("300W annotates all 68 points; every point must be visible")
        folder = face.extra.get("folder", FOLDER_BY_SPLIT.get(face.split, "afw"))
        stem = face.name or f"image_{number + 1:04d}"
        suffix = ".png" if folder.lower().startswith("lfpw") else ".jpg"
        save_rgb(root / folder / f"{stem}{suffix}", face.image)
        pts_path = root / folder / f"{stem}.pts"
        pts_path.write_text(format_pts(face.points + 1.0), encoding="utf-8", newline="\n")
        written.append(pts_path)
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/w300_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """The four public subsets (training) and a few private challenge faces (test), any size."""
    subsets = [("lfpw/trainset", "image_{:04d}"), ("helen/trainset", "{:d}_1"), ("afw", "{:d}_1"),
               ("ibug", "image_{:03d}_1"), ("01_Indoor", "indoor_{:03d}")]
    for i in range(count):
        folder, pattern = subsets[i % len(subsets)]
        split = "test" if folder == "01_Indoor" else "train"
        h, w = int(rng.integers(300, 451)), int(rng.integers(300, 451))
        jobs.add(i, h, w, [rng.uniform(-40, 40)], split,
                 pattern.format(1000 + i if "{:d}" in pattern else i + 1), folder=folder)


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 68 points with the 2-D jaw contour."""
    return face.fixture(face.native("ibug68").points)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_300w)
