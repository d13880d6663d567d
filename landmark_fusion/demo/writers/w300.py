"""Write faces as a 300W release: ``<folder>/<name>.pts`` beside ``<name>.png|.jpg`` (docs/formats.md §2)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from landmark_fusion.sources.pts import format_pts

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
