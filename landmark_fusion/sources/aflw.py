"""AFLW reader, for both forms the database circulates in (scheme ``aflw21``, split ``test``).

**sqlite form** (the original distribution, docs/formats.md §1.1): ``<root>/aflw.sqlite`` and the images
under ``<root>/flickr/<FaceImages.filepath>``. One item per ``Faces.face_id``.

* Points: ``FeatureCoords`` rows; ``feature_id`` 1..21 → index ``feature_id - 1``; a point is visible
  exactly when its row exists (no row = not annotated). Where a feature has several rows the first
  (lowest rowid) is used.
* Coordinate base: not documented for the sqlite; taken as 0-based pixel centres by default
  (option ``one_based=True`` subtracts 1 from points and boxes).
* Box: ``FaceRect (x, y, w, h)`` → ``(x, y, x + w, y + h)``.
* Yaw: ``FacePose.yaw`` is stored in **radians** in the original distribution and is converted to
  degrees; its sign (positive = towards image-left) is the one the 3DDFA yaw array carries.
* An image with several faces gives sample ids ``<filepath>#k`` (k = 0, 1, ... by face_id).

The sqlite connection is opened lazily in the process that reads (a connection cannot cross a
fork) and dropped when the reader is pickled.

**3DDFA form** ("AFLW 21080", the test set the paper evaluates on, docs/formats.md §1.2):
``test.configs/AFLW_GT_pts21.npy`` (N, 2, 21), ``AFLW_GT_crop_roi_box.npy`` (N, 4) ``[sx, sy, ex, ey]``,
``AFLW_GT_crop_yaws.npy`` (N,) degrees, row order fixed by ``test.data/AFLW_GT_crop.list``, images
``test.data/AFLW_GT_crop/<name>`` (120x120). Missing points are (-1, 452). The points live in a
450-px frame, 1-based (inferred: the first 2000 rows equal AFLW2000-3D's 1-based ``pt2d``), and are
made 0-based (``x - 1``) before the 3DDFA mapping ``u = (x0 - sx) * 120 / (ex - sx)`` (``v``
likewise), whose result is a 0-based crop pixel centre. The roi box indexes the **0-based** frame
(3DDFA crops with ``img[sy:ey, sx:ex]``, source: ``cleardusk/3DDFA utils/inference.py`` ``crop_img``):
resampling the 450x450 AFLW2000-3D images through the roi box reproduces the distributed crops best
with crop pixel ``u`` at frame ``sx + u * (ex - sx) / 120 + d``, d = 0 to 0.25 px on 6 sample pairs,
and clearly worse for d = -1 (a 1-based box). The 0-based 450-frame points are kept in
``extra['frame_points']`` and the roi box in ``extra['roi_box']``.
The box of a face is the roi box mapped into the crop, i.e. the whole crop ``(0, 0, 120, 120)``.
Arrays are memory-mapped, opened lazily per process.

The list is read as bytes, line by line: a line that is not UTF-8 text is rejected alone (named
``<list>:<line>``, its row of the arrays skipped), and a name listed twice is read once, the repeat
rejected as ``duplicate_sample``.

The form is chosen by which files exist (sqlite first); option ``form`` ("sqlite" | "3ddfa") forces it.
A root holding neither form is one ``wrong_layout`` rejection naming both layouts.
"""
from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .base import RawFace, Rejected, SourceError, check_points, safe_join
from .layout import guarded, missing_to_nan, passes_rejections, require_image, wrong_layout

NUM_POINTS = 21
SCHEME = "aflw21"
SQLITE_NAME = "aflw.sqlite"
IMAGE_DIR = "flickr"

CONFIGS = "test.configs"
PTS_FILE = f"{CONFIGS}/AFLW_GT_pts21.npy"
ROI_FILE = f"{CONFIGS}/AFLW_GT_crop_roi_box.npy"
YAW_FILE = f"{CONFIGS}/AFLW_GT_crop_yaws.npy"
LIST_FILE = "test.data/AFLW_GT_crop.list"
CROP_DIR = "test.data/AFLW_GT_crop"
CROP_SIZE = 120
#: how the 3DDFA-pipeline files (AFLW arrays, AFLW2000-3D ``pt2d``) store a missing point; its x
#: alone tells it apart -- source: docs/formats.md §1.2, §4
MISSING_POINT = (-1.0, 452.0)
MISSING_X = MISSING_POINT[0]


class FaceItem(NamedTuple):
    """sqlite form: one face, its rank among the faces of its image and their count."""

    face_id: int
    rank: int
    faces_in_image: int


class CropItem(NamedTuple):
    """3DDFA form: row of the arrays and the crop's file name from the list."""

    row: int
    name: str


#: the two layouts, as a ``wrong_layout`` message names them
EXPECTED = (f"{SQLITE_NAME} + {IMAGE_DIR}/ (the original distribution) or {PTS_FILE}, {ROI_FILE}, "
            f"{YAW_FILE}, {LIST_FILE} + {CROP_DIR}/ (3DDFA's test form)")


def detect_form(root: Path) -> str | None:
    """``sqlite`` or ``3ddfa`` by the files under ``root``; None if neither is there."""
    root = Path(root)
    if (root / SQLITE_NAME).is_file():
        return "sqlite"
    if (root / PTS_FILE).is_file() and (root / LIST_FILE).is_file():
        return "3ddfa"
    return None


def unmark_points(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based points (NaN where missing) and visibility of 1-based ``(K, 2)`` 3DDFA-pipeline
    points whose missing ones carry :data:`MISSING_POINT`."""
    raw = np.asarray(raw, dtype=np.float64)
    visible = raw[:, 0] != MISSING_X
    return missing_to_nan(raw - 1.0, visible), visible


def crop_coordinates(frame_xy: np.ndarray, roi_box: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Map 450-frame points into a crop: ``u = (x - sx) * size / (ex - sx)``, ``v`` likewise."""
    sx, sy, ex, ey = (float(v) for v in roi_box)
    scale = np.array([size / (ex - sx), size / (ey - sy)])
    return (np.asarray(frame_xy, dtype=np.float64) - [sx, sy]) * scale


class AFLWSource:
    """Reads AFLW in its sqlite form or its 3DDFA test form (scheme ``aflw21``)."""

    name = "aflw"
    scheme = SCHEME

    def __init__(self, root: Path, form: str | None = None, one_based: bool = False,
                 split: str = "test") -> None:
        self.root = Path(root)
        if form is not None and form not in ("sqlite", "3ddfa"):
            raise ValueError(f"unknown AFLW form {form!r} (sqlite | 3ddfa)")
        self.form = form or detect_form(self.root)  # None: neither layout, items() says so
        self.offset = 1.0 if one_based else 0.0
        self.split = split
        self._connection: sqlite3.Connection | None = None
        self._connection_pid: int | None = None
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._list_path = str(self.root / LIST_FILE)  # named by every face's messages

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_connection"] = None
        state["_connection_pid"] = None
        state["_arrays"] = None
        return state

    # -- items -----------------------------------------------------------------------------------
    def items(self) -> Iterator[FaceItem | CropItem | Rejected]:
        if self.form is None:
            return iter([wrong_layout(self.name, self.root, EXPECTED)])
        return self._face_items() if self.form == "sqlite" else self._crop_items()

    def _face_items(self) -> Iterator[FaceItem | Rejected]:
        query = ("SELECT face_id, ROW_NUMBER() OVER (PARTITION BY file_id ORDER BY face_id) - 1, "
                 "COUNT(*) OVER (PARTITION BY file_id) FROM Faces ORDER BY face_id")
        try:
            for face_id, rank, count in self._db().execute(query):
                yield FaceItem(int(face_id), int(rank), int(count))
        except sqlite3.Error as error:
            yield Rejected(self.name, SQLITE_NAME, "corrupt_annotation",
                           f"{self.root / SQLITE_NAME}: cannot list the faces ({error})")

    def _crop_items(self) -> Iterator[CropItem | Rejected]:
        """One item per list line (row = line index); undecodable, repeated and empty lines
        rejected (empty lines at the end of the list are no rows and are ignored)."""
        path = self.root / LIST_FILE
        first_line: dict[str, int] = {}
        blank: list[int] = []
        try:
            listing = open(path, "rb")
        except OSError as error:
            yield Rejected(self.name, LIST_FILE, "missing_annotation"
                           if isinstance(error, FileNotFoundError) else "corrupt_annotation",
                           f"{path}: cannot open the list ({error.strerror or error})")
            return
        with listing:
            for row, raw in enumerate(listing):
                where = f"{LIST_FILE}:{row + 1}"
                try:
                    name = raw.decode("utf-8").strip()
                except UnicodeDecodeError as error:
                    yield Rejected(self.name, where, "corrupt_annotation",
                                   f"{path} line {row + 1}: not UTF-8 text ({error.reason} at byte "
                                   f"{error.start}: {raw[error.start:error.start + 1]!r}); "
                                   f"row {row} of the arrays is not read")
                    continue
                if not name:
                    blank.append(row)
                    continue
                for empty in blank:  # an empty line before a name: a row of the arrays unused
                    yield Rejected(self.name, f"{LIST_FILE}:{empty + 1}", "corrupt_annotation",
                                   f"{path} line {empty + 1}: empty list line; row {empty} of the "
                                   f"arrays is not read")
                blank.clear()
                if name in first_line:
                    yield Rejected(self.name, where, "duplicate_sample",
                                   f"{path} line {row + 1}: {name} repeats line "
                                   f"{first_line[name] + 1}; only that line's face is read")
                    continue
                first_line[name] = row
                yield CropItem(row, name)

    def sample_id(self, item: FaceItem | CropItem) -> str:
        """``test.data/AFLW_GT_crop/<name>`` (3DDFA form) or ``flickr/<filepath>[#k]`` (sqlite)."""
        if isinstance(item, CropItem):
            return f"{CROP_DIR}/{item.name}"
        row = self._db().execute(
            "SELECT i.filepath FROM Faces f JOIN FaceImages i ON i.file_id = f.file_id "
            "WHERE f.face_id = ?", (item.face_id,)).fetchone()
        if row is None:
            return f"face_id {item.face_id}"
        return self._face_sample_id(str(row[0]), item)

    @staticmethod
    def _face_sample_id(filepath: str, item: FaceItem) -> str:
        return Path(IMAGE_DIR, filepath).as_posix() + (f"#{item.rank}" if item.faces_in_image > 1 else "")

    # -- reading ---------------------------------------------------------------------------------
    @passes_rejections
    def read(self, item: FaceItem | CropItem) -> list[RawFace | Rejected]:
        if isinstance(item, FaceItem):
            return guarded(self.name, f"face_id {item.face_id}", lambda: self._read_face(item))
        return guarded(self.name, f"{CROP_DIR}/{item.name}", lambda: self._read_crop(item))

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._connection_pid != os.getpid():
            uri = (self.root / SQLITE_NAME).resolve().as_uri() + "?mode=ro"
            self._connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._connection_pid = os.getpid()
        return self._connection

    def _read_face(self, item: FaceItem) -> list[RawFace | Rejected]:
        where = f"{self.root / SQLITE_NAME} face_id {item.face_id}"
        try:
            return self._query_face(item, where)
        except sqlite3.Error as error:
            raise SourceError("corrupt_annotation", f"{where}: {error}") from None

    def _query_face(self, item: FaceItem, where: str) -> list[RawFace | Rejected]:
        db = self._db()
        image_row = db.execute(
            "SELECT i.filepath, i.width, i.height FROM Faces f JOIN FaceImages i ON i.file_id = f.file_id "
            "WHERE f.face_id = ?", (item.face_id,)).fetchone()
        if image_row is None:
            raise SourceError("missing_annotation", f"{where}: no FaceImages row for its file_id")
        filepath, width, height = image_row
        relative = Path(IMAGE_DIR, str(filepath))
        sample_id = self._face_sample_id(str(filepath), item)
        notes: list[str] = []

        points = np.full((NUM_POINTS, 2), np.nan)
        visible = np.zeros(NUM_POINTS, dtype=bool)
        rows = db.execute("SELECT feature_id, x, y FROM FeatureCoords WHERE face_id = ? ORDER BY rowid",
                          (item.face_id,))
        for feature_id, x, y in rows:
            if not isinstance(feature_id, int) or not 1 <= feature_id <= NUM_POINTS:
                notes.append(f"a FeatureCoords row with feature_id {feature_id!r} (not in 1..21) "
                             f"is left out")
                continue
            index = feature_id - 1
            if visible[index]:
                continue
            try:
                points[index] = [float(x) - self.offset, float(y) - self.offset]
            except (TypeError, ValueError):
                raise SourceError("bad_coordinates", f"{where}: feature {feature_id} has x, y = {x!r}, {y!r}") from None
            visible[index] = True

        image_size = None
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            image_size = (width, height)
        check_points(points, visible, NUM_POINTS, where, image_size)
        image_path = require_image(safe_join(self.root, relative))

        box = None
        rect = db.execute("SELECT x, y, w, h FROM FaceRect WHERE face_id = ? ORDER BY rowid",
                          (item.face_id,)).fetchone()
        if rect is not None and all(isinstance(v, (int, float)) for v in rect):
            x, y, w, h = (float(v) for v in rect)
            box = np.array([x - self.offset, y - self.offset, x + w - self.offset, y + h - self.offset])
        pose = db.execute("SELECT yaw FROM FacePose WHERE face_id = ? ORDER BY rowid",
                          (item.face_id,)).fetchone()
        yaw = math.degrees(float(pose[0])) if pose is not None and isinstance(pose[0], (int, float)) else math.nan
        extra: dict[str, Any] = {"face_id": item.face_id}
        if notes:
            extra["notes"] = notes
        return [RawFace(self.name, sample_id, image_path, self.scheme, points, visible, self.split,
                        yaw=yaw, box=box, extra=extra)]

    def _load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            try:
                pts = np.load(self.root / PTS_FILE, mmap_mode="r")
                roi = np.load(self.root / ROI_FILE, mmap_mode="r")
                yaws = np.load(self.root / YAW_FILE, mmap_mode="r")
            except (OSError, ValueError) as error:
                raise SourceError("corrupt_annotation",
                                  f"{self.root / CONFIGS}: cannot load the arrays ({error})") from None
            n = pts.shape[0]
            if pts.shape[1:] != (2, NUM_POINTS) or roi.shape != (n, 4) or yaws.shape != (n,):
                raise SourceError("corrupt_annotation",
                                  f"{self.root / CONFIGS}: array shapes {pts.shape}, {roi.shape}, {yaws.shape} "
                                  f"do not match (N, 2, 21), (N, 4), (N,)")
            # plain ndarray views of the maps: indexing a memmap object costs more per face
            self._arrays = (pts.view(np.ndarray), roi.view(np.ndarray), yaws.view(np.ndarray))
        return self._arrays

    def _read_crop(self, item: CropItem) -> list[RawFace | Rejected]:
        relative = f"{CROP_DIR}/{item.name}"  # a string: one Path per face (the image's) is enough
        where = f"{self._list_path} line {item.row + 1} ({item.name})"
        if not item.name:
            raise SourceError("corrupt_annotation", f"{where}: empty list line")
        pts, roi, yaws = self._load_arrays()
        if item.row >= pts.shape[0]:
            raise SourceError("corrupt_annotation", f"{where}: the arrays have only {pts.shape[0]} rows")
        image_path = require_image(safe_join(self.root, relative))

        raw = np.array(pts[item.row], dtype=np.float64).T  # (21, 2) x, y
        box = np.array(roi[item.row], dtype=np.float64)
        if not (box[2] > box[0] and box[3] > box[1]):
            raise SourceError("corrupt_annotation", f"{where}: empty roi box {box.tolist()}")
        frame, visible = unmark_points(raw)  # 1-based 450 frame -> 0-based (inferred base)
        points = crop_coordinates(frame, box)  # (the missing points' NaN stay NaN)
        check_points(points, visible, NUM_POINTS, where, (CROP_SIZE, CROP_SIZE))
        return [RawFace(self.name, relative, image_path, self.scheme, points, visible, self.split,
                        yaw=float(yaws[item.row]),
                        box=np.array([0.0, 0.0, CROP_SIZE, CROP_SIZE]),
                        extra={"frame_points": frame, "roi_box": box, "row": item.row})]
