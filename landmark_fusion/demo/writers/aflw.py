"""Write faces as AFLW, in either form the reader accepts (docs/formats.md §1):

* :func:`write_aflw_sqlite` -- the original ``aflw.sqlite`` (tables ``FaceImages``, ``Faces``,
  ``FeatureCoords``, ``FeatureCoordTypes``, ``FaceRect``, ``FacePose``) with images under ``flickr/0/``.
  Faces with the same ``name`` share one image (the first one's pixels), as several AFLW faces do.
* :func:`write_aflw_3ddfa` -- the 3DDFA "AFLW 21080" test form: ``test.configs/AFLW_GT_pts21.npy``
  (N, 2, 21) float32, ``AFLW_GT_crop_roi_box.npy`` (N, 4) uint16, ``AFLW_GT_crop_yaws.npy`` (N,)
  float32, ``test.data/AFLW_GT_crop.list`` and 120x120 crops.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from landmark_fusion.sources.aflw import (
    CROP_DIR,
    CROP_SIZE,
    LIST_FILE,
    MISSING_POINT,
    PTS_FILE,
    ROI_FILE,
    SQLITE_NAME,
    YAW_FILE,
)

from ..plan import DemoDatabase, JobList, RenderedFace
from .base import FixtureFace, save_rgb

#: feature_id 1..21 descriptions (source: docs/formats.md §1.1, after takiyu/hyperface)
FEATURE_NAMES = (
    "LeftBrowLeftCorner", "LeftBrowCenter", "LeftBrowRightCorner", "RightBrowLeftCorner",
    "RightBrowCenter", "RightBrowRightCorner", "LeftEyeLeftCorner", "LeftEyeCenter",
    "LeftEyeRightCorner", "RightEyeLeftCorner", "RightEyeCenter", "RightEyeRightCorner", "LeftEar",
    "NoseLeft", "NoseCenter", "NoseRight", "RightEar", "MouthLeftCorner", "MouthCenter",
    "MouthRightCorner", "ChinCenter",
)

SCHEMA = """
CREATE TABLE FaceImages (image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT,
                         bw INTEGER, width INTEGER, height INTEGER);
CREATE TABLE Faces (face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT);
CREATE TABLE FeatureCoordTypes (feature_id INTEGER PRIMARY KEY, descr TEXT, code TEXT,
                                x REAL, y REAL, z REAL);
CREATE TABLE FeatureCoords (face_id INTEGER, feature_id INTEGER, x REAL, y REAL, annot_type_id INTEGER);
CREATE TABLE FaceRect (face_id INTEGER, x REAL, y REAL, w REAL, h REAL, annot_type_id INTEGER);
CREATE TABLE FacePose (face_id INTEGER, roll REAL, pitch REAL, yaw REAL, annot_type_id INTEGER);
"""


def _box(face: FixtureFace) -> np.ndarray:
    if "box" in face.extra:
        return np.asarray(face.extra["box"], dtype=np.float64)
    visible = np.asarray(face.points, dtype=np.float64)[face.visibility()]
    return np.concatenate([visible.min(axis=0), visible.max(axis=0)])


def marked_rows(points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """The ``(2, K)`` rows a 3DDFA-pipeline file stores for 0-based ``points``: 1-based, with
    ``(-1, 452)`` where not ``visible`` (the inverse of ``sources.aflw.unmark_points``)."""
    rows = np.asarray(points, dtype=np.float64) + 1.0
    rows[~np.asarray(visible, dtype=bool)] = MISSING_POINT
    return np.ascontiguousarray(rows.T)


def write_aflw_sqlite(root: Path, faces: Sequence[FixtureFace], one_based: bool = False) -> Path:
    """Write ``<root>/aflw.sqlite`` and ``<root>/flickr/0/<name>.jpg``; face ids are 1, 2, ...

    Points (0-based, AFLW order) are stored only where visible; ``one_based`` adds 1 to points and
    boxes. Yaw is stored in radians (``face.pose`` if given, else ``face.yaw`` in degrees).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / SQLITE_NAME
    if path.exists():
        path.unlink()
    offset = 1.0 if one_based else 0.0
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO FeatureCoordTypes VALUES (?, ?, ?, NULL, NULL, NULL)",
                       [(i + 1, name, name) for i, name in enumerate(FEATURE_NAMES)])
        images: dict[str, str] = {}
        for face_id, face in enumerate(faces, start=1):
            stem = face.name or f"image{face_id:05d}"
            file_id = f"{stem}.jpg"
            if file_id not in images:
                images[file_id] = f"0/{file_id}"
                save_rgb(root / "flickr" / images[file_id], face.image)
                height, width = face.image.shape[:2]
                db.execute("INSERT INTO FaceImages VALUES (?, 'flickr', ?, ?, 0, ?, ?)",
                           (len(images), file_id, images[file_id], width, height))
            db.execute("INSERT INTO Faces VALUES (?, ?, 'flickr')", (face_id, file_id))
            for index in np.flatnonzero(face.visibility()):
                x, y = (float(v) + offset for v in face.points[index])
                db.execute("INSERT INTO FeatureCoords VALUES (?, ?, ?, ?, 1)", (face_id, int(index) + 1, x, y))
            x0, y0, x1, y1 = (float(v) for v in _box(face))
            db.execute("INSERT INTO FaceRect VALUES (?, ?, ?, ?, ?, 1)",
                       (face_id, x0 + offset, y0 + offset, x1 - x0, y1 - y0))
            pitch, yaw, roll = face.pose_radians()
            db.execute("INSERT INTO FacePose VALUES (?, ?, ?, ?, 1)", (face_id, roll, pitch, yaw))
    return path


def write_aflw_3ddfa(root: Path, faces: Sequence[FixtureFace]) -> Path:
    """Write the 3DDFA test form; returns the list file.

    Each face image is resized to the 120x120 crop. Its roi box in the 450-px frame is
    ``extra['roi_box']`` or, by default, the image's own size placed at (1, 1), so a point at
    image pixel (x, y) sits at 0-based frame (sx + x·(ex−sx)/W, ...); the stored points are 1-based
    with missing points as (-1, 452), as in the real arrays. Crops are named ``imageNNNNN.jpg``
    (``face.name`` if given) and rows follow the sorted names.
    """
    root = Path(root)
    named = sorted(((f"{face.name or f'image{n + 2:05d}'}.jpg", face) for n, face in enumerate(faces)),
                   key=lambda pair: pair[0])
    pts = np.empty((len(named), 2, 21), dtype=np.float32)
    rois = np.empty((len(named), 4), dtype=np.uint16)
    yaws = np.empty(len(named), dtype=np.float32)
    for row, (name, face) in enumerate(named):
        height, width = face.image.shape[:2]
        roi = np.asarray(face.extra.get("roi_box", (1, 1, 1 + width, 1 + height)), dtype=np.float64)
        scale = np.array([(roi[2] - roi[0]) / width, (roi[3] - roi[1]) / height])
        pts[row] = marked_rows(roi[:2] + np.asarray(face.points, dtype=np.float64) * scale,
                               face.visibility())  # 1-based frame
        rois[row] = roi
        yaws[row] = 0.0 if math.isnan(face.yaw) else face.yaw
        crop = cv2.resize(np.asarray(face.image, dtype=np.uint8), (CROP_SIZE, CROP_SIZE),
                          interpolation=cv2.INTER_AREA)
        save_rgb(root / CROP_DIR / name, crop)
    for relative, array in ((PTS_FILE, pts), (ROI_FILE, rois), (YAW_FILE, yaws)):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(root / relative, array)
    list_path = root / LIST_FILE
    list_path.write_text("".join(f"{name}\n" for name, _ in named), encoding="utf-8")
    return list_path


# ---------------------------------------------------------------------------------------------
# The demo's mini-database (its record: landmark_fusion/sources/aflw_record.py)
# ---------------------------------------------------------------------------------------------
def plan_demo(count: int, rng: np.random.Generator, jobs: JobList) -> None:
    """450-px test images over the full yaw range."""
    for i in range(count):
        jobs.add(i, 450, 450, [rng.uniform(-90, 90)], "test", f"image{10002 + 5 * i:05d}")


def annotate_demo(face: RenderedFace) -> FixtureFace:
    """The visible AFLW points only."""
    points = face.native("aflw21")
    return face.fixture(points.points, points.visible)


def write_demo(root: Path, faces: Sequence[FixtureFace]) -> None:
    """The 3DDFA test form at ``root`` and, beside it in ``aflw_sqlite/``, the registration form
    of the same faces."""
    root = Path(root)
    write_aflw_3ddfa(root, faces)
    write_aflw_sqlite(root.parent / "aflw_sqlite", faces)


DEMO = DemoDatabase(plan_demo, annotate_demo, write_demo)
