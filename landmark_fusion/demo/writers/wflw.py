"""Write faces as WFLW: the main lists (207 fields) and the attribute test lists (197 fields).

Line layouts from the official READMEs (source: docs/formats.md §8): ``x0 y0 … x97 y97`` with 6
decimals, then for the main lists the box ``x_min y_min x_max y_max`` (integers) and the six 0/1
attributes, then the image path relative to ``WFLW_images``; single spaces, LF endings, no
trailing space. Several faces of one image share its path (the image is written once).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from landmark_fusion.sources.wflw import ATTRIBUTE_LISTS, ATTRIBUTES, FULL_TEST_LIST, MAIN_LISTS

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb

IMAGES_DIR = "WFLW_images"
DEFAULT_EVENT = "0--Parade"


def _coordinates(points: np.ndarray) -> str:
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (98, 2):
        raise ValueError(f"WFLW stores 98 points, got shape {points.shape}")
    return " ".join(f"{value:.6f}" for value in points.reshape(-1))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}"


def format_points_line(points: np.ndarray, image_name: str) -> str:
    """A 197-field attribute-list line (no newline)."""
    return f"{_coordinates(points)} {image_name}"


def format_main_line(points: np.ndarray, box: Sequence[float], attributes: Mapping[str, int],
                     image_name: str) -> str:
    """A 207-field main-list line (no newline); ``attributes`` by name, missing ones are 0."""
    flags = " ".join(str(int(attributes.get(name, 0))) for name in ATTRIBUTES)
    corners = " ".join(_number(v) for v in box)
    return f"{_coordinates(points)} {corners} {flags} {image_name}"


def face_box(face: FixtureFace) -> list[float]:
    """``extra['box']`` or the points' bounding box rounded outwards to integers."""
    if "box" in face.extra:
        return [float(v) for v in face.extra["box"]]
    low = np.floor(face.points.min(axis=0))
    high = np.ceil(face.points.max(axis=0))
    return [low[0], low[1], high[0], high[1]]


def image_name(face: FixtureFace, index: int) -> str:
    """The list's image path: ``face.name`` if it has an event folder, else under a default one."""
    name = face.name or f"0_Parade_demo_{index}.jpg"
    if not name.lower().endswith((".jpg", ".jpeg", ".png")):
        name += ".jpg"
    return name if "/" in name else f"{DEFAULT_EVENT}/{name}"


def write_wflw(root: Path, faces: Sequence[FixtureFace], attribute_lists: bool = True,
               full_test_list: bool = False) -> list[Path]:
    """Write images and lists; returns the list files written.

    Faces go to the main list of their split (``val`` goes to train), in the given order.
    ``extra['attributes']`` (name -> 0/1) and ``extra['box']`` are used where given. With
    ``attribute_lists`` the six test lists hold the test faces having each attribute; with
    ``full_test_list`` ``list_98pt_test.txt`` holds every test face.
    """
    root = Path(root)
    lines: dict[str, list[str]] = {path: [] for path in MAIN_LISTS.values()}
    if attribute_lists:
        lines.update({path: [] for path in ATTRIBUTE_LISTS})
    if full_test_list:
        lines[FULL_TEST_LIST] = []
    written_images: set[str] = set()
    for index, face in enumerate(faces):
        name = image_name(face, index)
        if name not in written_images:
            save_rgb(root / IMAGES_DIR / name, face.image)
            written_images.add(name)
        attributes = face.extra.get("attributes", {})
        split = "test" if face.split == "test" else "train"
        lines[MAIN_LISTS[split]].append(format_main_line(face.points, face_box(face), attributes, name))
        if split != "test":
            continue
        points_line = format_points_line(face.points, name)
        if full_test_list:
            lines[FULL_TEST_LIST].append(points_line)
        if attribute_lists:
            for path, attribute in ATTRIBUTE_LISTS.items():
                if int(attributes.get(attribute, 0)) == 1:
                    lines[path].append(points_line)
    written: list[Path] = []
    for relative, content in lines.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line + "\n" for line in content), encoding="ascii", newline="\n")
        written.append(target)
    return written


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/wflw_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """Photos of any size, a quarter of them test faces."""
    for i in range(count):
        split = "test" if i % 4 == 3 else "train"
        h, w = int(rng.integers(320, 451)), int(rng.integers(320, 451))
        jobs.add(i, h, w, [rng.uniform(-75, 75)], split, f"{DEFAULT_EVENT}/0_Parade_demo_{i}.jpg",
                 expression=0.8)


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The 98 points and the attributes the scene shows (large pose, expression, low light)."""
    params = face.params
    attributes = {"pose": int(abs(face.yaw) > 45), "expression": int(float(np.sum(params.x_exp)) > 0.8),
                  "illumination": int(params.ambient < 0.4), "blur": 0, "makeup": 0, "occlusion": 0}
    return face.fixture(face.native("wflw98").points, attributes=attributes)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_wflw)
