"""AFLW2000-3D reader: ``imageNNNNN.mat`` beside ``imageNNNNN.jpg`` in one folder (docs/formats.md §4).

* ``pt3d_68`` (3, 68): the 68 "fixed" points (``ibug68_fixed``), x/y in 1-based pixels of the
  450x450 image (made 0-based here), z depth in the same pixel scale (kept in ``extra['depth']``,
  larger = closer to the camera). Points may lie outside the image; they are all annotated.
  This is the only key a face needs.
* ``pt2d`` (2, 21), optional: the original AFLW 21 points (AFLW order, docs/formats.md §1.1), missing
  ones stored as (-1, 452); kept 0-based in ``extra['aflw21_points']`` (NaN where missing) and
  ``extra['aflw21_visible']`` for the AFLW-protocol evaluation. Three files of the release
  (``image01198``, ``image02899``, ``image03189``) store it as (2, 23): two more points after the
  21, whose first 21 equal 3DDFA's ``AFLW2000-3D.pts21.npy`` rows; the reader keeps those 21 and
  notes the trim. Any other defect of ``pt2d``, ``roi`` or ``Pose_Para`` leaves that key out with
  a note in ``extra['notes']`` and keeps the face: the benchmark is defined on all 2,000 faces.
* Yaw = degrees(``Pose_Para[0][1]``), positive = towards image-left; NaN without a usable
  ``Pose_Para``. Option ``yaw_labels`` replaces it by AFLW's own yaw labels, the ones the paper's
  and 3DDFA's yaw buckets (1,306 / 462 / 232) are counted with: ``{values: YAWS.npy, names:
  NAMES.list}``, a (N,) array of degrees and the list of image file names giving its row order
  (3DDFA's ``AFLW2000-3D-new.pose.npy`` with ``AFLW2000-3D_crop.list``, or AFLW's
  ``AFLW_GT_crop_yaws.npy`` with ``AFLW_GT_crop.list``, whose first 2,000 rows are these photos);
  relative paths are relative to the root. The fitted yaw is then kept in
  ``extra['fitted_yaw']``. Split: ``test`` (paper Table 1).

The root may be the image folder itself or hold it as ``AFLW2000/`` (the name of the common copies);
option ``folder`` names another sub-folder. A sub-folder of the image folder other than ``Code/``
(the readme's MATLAB code) is named as ``wrong_layout``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from .aflw import MISSING_X, unmark_points
from .base import RawFace, Rejected, check_points, safe_join_text
from .layout import expect_layout, guarded, list_dirs, passes_rejections, require_image, walk_files
from .matfiles import load_mat, optional_yaw

NUM_POINTS = 68
AFLW21_POINTS = 21
DEFAULT_FOLDER = "AFLW2000"
#: sub-folders of the image folder that hold no faces (the readme's MATLAB demo)
IGNORED_DIRS = ("Code",)


def aflw21_from_pt2d(pt2d: np.ndarray, notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """0-based AFLW points (NaN where missing) and visibility of a ``pt2d`` of shape (2, n).

    More than 21 columns: the first 21 are kept (noted); fewer: left out (noted). Non-finite
    values make their point missing (noted).
    """
    columns = pt2d.shape[1]
    if columns < AFLW21_POINTS:
        notes.append(f"optional key 'pt2d' has {columns} points, expected {AFLW21_POINTS}; left out")
        return None
    if columns > AFLW21_POINTS:
        notes.append(f"optional key 'pt2d' has {columns} points; the {columns - AFLW21_POINTS} after "
                     f"the {AFLW21_POINTS} AFLW points are left out")
    raw = np.asarray(pt2d[:, :AFLW21_POINTS], dtype=np.float64).T
    bad = ~np.isfinite(raw).all(axis=1)
    if bad.any():
        notes.append(f"optional key 'pt2d': {int(bad.sum())} non-finite points taken as missing")
        raw[bad] = MISSING_X
    return unmark_points(raw)


def load_yaw_labels(root: Path, spec: Mapping[str, str]) -> dict[str, float]:
    """Image file name → yaw label (degrees) from option ``yaw_labels`` (see the module docstring).

    Raises ValueError naming the file for a spec or file that cannot be used (the build then stops
    with that message before reading any face).
    """
    if not isinstance(spec, Mapping) or set(spec) != {"values", "names"}:
        raise ValueError("option yaw_labels needs exactly the keys 'values' (a .npy of yaws) and "
                         "'names' (the list of image file names in the same order)")
    values_path, names_path = (Path(root, os.path.expanduser(str(spec[k]))) for k in ("values", "names"))
    try:
        values = np.load(values_path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"yaw_labels: {values_path}: not a readable .npy array ({error})") from None
    try:
        names = [line.strip() for line in names_path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"yaw_labels: {names_path}: not a readable list of names ({error})") from None
    names = [Path(name).name for name in names if name]
    values = np.asarray(values, dtype=np.float64).reshape(-1) if values.ndim == 1 else None
    if values is None or len(values) != len(names):
        raise ValueError(f"yaw_labels: {values_path} must be a 1-D array with one yaw per line of "
                         f"{names_path} ({len(names)} names)")
    return dict(zip(names, values.tolist(), strict=False))


class AFLW2000Source:
    """Reads AFLW2000-3D (scheme ``ibug68_fixed``)."""

    name = "aflw2000_3d"
    scheme = "ibug68_fixed"

    def __init__(self, root: Path, folder: str | None = None, split: str = "test",
                 yaw_labels: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.split = split
        if folder is None:
            folder = DEFAULT_FOLDER if (self.root / DEFAULT_FOLDER).is_dir() else ""
        self.folder = folder
        self.yaw_labels = load_yaw_labels(self.root, yaw_labels) if yaw_labels is not None else None

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.mat`` paths of the image folder (no recursion), sorted."""
        start = self.root / self.folder
        expected = (f"imageNNNNN.mat + imageNNNNN.jpg in {self.root}"
                    + (f"/{self.folder}" if self.folder else f" or in {self.root}/{DEFAULT_FOLDER}"))
        return expect_layout(self.name, start, expected, self._items(start))

    def _items(self, start: Path) -> Iterator[str | Rejected]:
        yield from walk_files(self.root, (".mat",), self.name, folder=start, recursive=False)
        try:
            folders = list_dirs(start)
        except OSError:
            return  # walk_files has named it
        for name in folders:
            if name not in IGNORED_DIRS and not name.startswith("."):
                relative = (Path(self.folder) / name).as_posix()
                yield Rejected(self.name, relative + "/", "wrong_layout",
                               f"{start / name}: a folder inside the AFLW2000-3D image folder "
                               f"(the files lie directly in it); not read")

    def sample_id(self, item: str) -> str:
        """The image beside the ``.mat`` item (a root-relative POSIX name): same stem, ``.jpg``."""
        return os.path.splitext(item)[0] + ".jpg"

    @passes_rejections
    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, self.sample_id(item), lambda: self._read(item))

    def _read(self, item: str) -> list[RawFace | Rejected]:
        # the item is a root-relative POSIX name (walk_files): string operations, one Path per face
        mat_path = safe_join_text(self.root, item)
        image_name = self.sample_id(item)
        image_path = require_image(safe_join_text(self.root, image_name))
        notes: list[str] = []
        arrays = load_mat(mat_path, {"pt3d_68": (3, NUM_POINTS)},
                          {"Pose_Para": (1, 7), "pt2d": (2, None), "roi": (1, 4)}, notes)
        pt3d = arrays["pt3d_68"].astype(np.float64)
        points = pt3d[:2].T - 1.0  # 1-based MATLAB -> 0-based
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, mat_path)

        extra: dict = {"depth": pt3d[2].copy()}
        if "pt2d" in arrays:
            aflw21 = aflw21_from_pt2d(arrays["pt2d"], notes)
            if aflw21 is not None:
                extra["aflw21_points"], extra["aflw21_visible"] = aflw21
        if "roi" in arrays:
            extra["roi"] = arrays["roi"].reshape(4).astype(np.int64)
        yaw = optional_yaw(arrays, notes)
        if self.yaw_labels is not None:
            extra["fitted_yaw"] = yaw
            label = os.path.basename(image_name)
            yaw = self.yaw_labels.get(label, math.nan)
            if not math.isfinite(yaw):
                notes.append(f"{label} has no finite yaw label: yaw unknown")
        if notes:
            extra["notes"] = notes
        return [RawFace(self.name, image_name, image_path, self.scheme, points, visible,
                        self.split, yaw=yaw, extra=extra)]
