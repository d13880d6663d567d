"""Write ``.land`` files and the FaceWarehouse / LFW-74 layouts around them.

FaceWarehouse style (source: docs/formats.md §6, as in the real files): a count line, then one
``u v`` line per point with 6 decimals, normalised by the image size with ``v`` measured from the
bottom, CRLF line endings (also after the last line). The inverse of
:func:`landmark_fusion.sources.landfiles.land_to_pixels`; the pixel and y-down variants exist to
test LFW-74's per-set convention detection.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb

POSES_PER_TESTER = 20


def land_numbers(points: np.ndarray, size: tuple[int, int], normalised: bool = True,
                 y_up: bool = True) -> np.ndarray:
    """The ``u v`` numbers of 0-based pixel ``points`` (y down) in a ``W x H`` image."""
    width, height = size
    values = np.array(points, dtype=np.float64, copy=True)
    if y_up:
        values[:, 1] = height - values[:, 1]
    if normalised:
        values[:, 0] /= width
        values[:, 1] /= height
    return values


def format_land(points: np.ndarray, size: tuple[int, int], normalised: bool = True,
                y_up: bool = True) -> str:
    """The text of a ``.land`` file, CRLF line endings."""
    values = land_numbers(points, size, normalised, y_up)
    lines = [str(len(values))] + [f"{u:.6f} {v:.6f}" for u, v in values]
    return "\r\n".join(lines) + "\r\n"


def write_land(path: Path, points: np.ndarray, size: tuple[int, int], normalised: bool = True,
               y_up: bool = True) -> Path:
    """Write one ``.land`` file (bytes exactly as :func:`format_land`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(format_land(points, size, normalised, y_up).encode("ascii"))
    return path


def _size(face: FixtureFace) -> tuple[int, int]:
    height, width = face.image.shape[:2]
    return width, height


def write_facewarehouse(root: Path, faces: Sequence[FixtureFace], first_tester: int = 1,
                        poses_per_tester: int = POSES_PER_TESTER) -> list[Path]:
    """Write ``Tester_<k>/TrainingPose/pose_<j>.{png,land}``, ``poses_per_tester`` faces per tester.

    Returns the ``.land`` paths.
    """
    root = Path(root)
    written = []
    for i, face in enumerate(faces):
        stem = (root / f"Tester_{first_tester + i // poses_per_tester}" / "TrainingPose"
                / f"pose_{i % poses_per_tester}")
        save_rgb(stem.with_suffix(".png"), face.image)
        written.append(write_land(stem.with_suffix(".land"), face.points, _size(face)))
    return written


def write_lfw74(root: Path, faces: Sequence[FixtureFace], normalised: bool = True,
                y_up: bool = True, split_folders: bool = True) -> list[Path]:
    """Write LFW-74 style ``<name>.jpg`` + ``<name>.land`` pairs in the given convention.

    With ``split_folders`` faces go below ``train/`` or ``test/`` by their split; without, they
    lie directly under the root and the test faces are named in ``test.txt``. ``face.name`` (a
    relative stem such as ``Aaron_Eckhart/Aaron_Eckhart_0001``) or ``face_<i>`` names the files.
    Returns the ``.land`` paths.
    """
    root = Path(root)
    written, test_names = [], []
    for i, face in enumerate(faces):
        name = face.name or f"face_{i:04d}"
        stem = root / face.split / name if split_folders else root / name
        save_rgb(stem.with_suffix(".jpg"), face.image)
        written.append(write_land(stem.with_suffix(".land"), face.points, _size(face),
                                  normalised, y_up))
        if face.split == "test":
            test_names.append(f"{name}.jpg")
    if not split_folders and test_names:
        (root / "test.txt").write_text("\n".join(test_names) + "\n", encoding="utf-8")
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/facewarehouse_record.py, lfw74_record.py)
# ---------------------------------------------------------------------------------------------
def plan_facewarehouse_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """640x480 expression portraits (the writer groups them by tester), all training faces."""
    for i in range(count):
        jobs.add(i, 480, 640, [rng.uniform(-20, 20)], "train", "", expression=1.2)


def plan_lfw74_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """250x250 crops of a few people, a quarter of them test faces."""
    people = ("Aaron_Eckhart", "Abel_Pacheco", "Ada_Lovelace", "Adam_Sandler", "Adrien_Brody")
    for i in range(count):
        person = people[i % len(people)]
        split = "test" if i % 4 == 3 else "train"
        jobs.add(i, 250, 250, [rng.uniform(-45, 45)], split, f"{person}/{person}_{i // len(people) + 1:04d}")


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 74 points of both databases."""
    return face.fixture(face.native("fw74").points)


FACEWAREHOUSE_DEMO = DemoDatabase(plan_facewarehouse_demo, annotate_demo, write_facewarehouse)
LFW74_DEMO = DemoDatabase(plan_lfw74_demo, annotate_demo, write_lfw74)
