"""300W-LP reader: ``<DB>/<DB>_<id>_<face>_<k>.mat`` + ``.jpg``, and the mirrored ``<DB>_Flip/``.

Facts (source: formats.md §3, verified on the samples):

* ``pt2d`` (2, 68), 1-based MATLAB pixels of the 450x450 image, 68 "fixed" points (``ibug68_fixed``).
* ``pt2d`` is only right for the profiling step ``k = 0``: synthesised poses (``k > 0``) keep the
  ``k = 0`` points bit for bit. For ``k > 0`` the points come from ``landmarks/<DB>/<name>_pts.mat``
  key ``pts_3d`` (68, 2), assumed 1-based like every file of that MATLAB pipeline (option
  ``landmarks_one_based``); without that file the sample is rejected as ``stale_landmarks``.
* ``_Flip`` files mirror x (``x' = W + 1 - x``, W = 450) but keep the index order, so index 0 lies on
  the image-right side. The reader re-indexes them with the scheme's flip permutation from the
  vocabulary, so every face comes out with iBUG semantics.
* ``_pts.mat`` of a ``_Flip`` image: looked up in ``landmarks/<DB>_Flip/`` (treated like the flipped
  ``.mat``: mirrored x, original order); where absent -- the layout ``hzh8311/pyhowfar`` expects has
  only ``landmarks/<DB>/`` -- the non-flipped ``_pts.mat`` is mirrored with the width of the
  flipped image (0-based ``x' = W - 1 - x``) and re-indexed.
* Yaw = degrees(``Pose_Para[0][1]``), positive = towards image-left; ``_Flip`` files store their own
  (negated) pose.

Split: the paper holds out part of 300W-LP for validation; here a face goes to ``val`` by a hash of
its identity ``<DB>_<id>`` (all faces, profiles and flips of one source image land together),
``val_fraction`` (default 0.05) of the identities.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .base import RawFace, Rejected, SourceError, check_points, image_size, safe_join
from .layout import guarded, hold_out_split, list_dirs, require_image, walk_files
from .matfiles import load_mat, pose_yaw_degrees, require_finite

NUM_POINTS = 68
SCHEME = "ibug68_fixed"
DATABASES = ("AFW", "HELEN", "IBUG", "LFPW")
FLIP_SUFFIX = "_Flip"
LANDMARKS_DIR = "landmarks"
_NAME = re.compile(r"^(?P<identity>.+)_(?P<face>\d+)_(?P<k>\d+)$")


def scheme_flip_permutation(scheme: str = SCHEME) -> np.ndarray:
    """The native-index mirror permutation of ``scheme``, from the correspondence vocabulary."""
    from landmark_fusion.vocabulary import load_scheme

    return np.asarray(load_scheme(scheme).flip_permutation(), dtype=np.int64)


def parse_name(stem: str, path: Path | str) -> tuple[str, int, int]:
    """``<DB>_<id>_<face>_<k>`` → (identity ``<DB>_<id>``, face index, profiling step k)."""
    match = _NAME.match(stem)
    if not match:
        raise SourceError("corrupt_annotation", f"{path}: file name is not <DB>_<id>_<face>_<k>")
    return match["identity"], int(match["face"]), int(match["k"])


class W300LPSource:
    """Reads 300W-LP (scheme ``ibug68_fixed``)."""

    name = "300w_lp"
    scheme = SCHEME

    def __init__(self, root: Path, val_fraction: float = 0.05, databases: Sequence[str] = DATABASES,
                 landmarks_one_based: bool = True, flip_permutation: Sequence[int] | None = None) -> None:
        """``flip_permutation`` overrides the vocabulary's (for a scheme file under test)."""
        self.root = Path(root)
        self.val_fraction = float(val_fraction)
        self.databases = tuple(databases)
        self.landmarks_offset = 1.0 if landmarks_one_based else 0.0
        self._flip = None if flip_permutation is None else np.asarray(flip_permutation, dtype=np.int64)

    def items(self) -> Iterator[str]:
        """Root-relative ``.mat`` paths of ``<DB>`` then ``<DB>_Flip`` for each database, sorted."""
        present = set(list_dirs(self.root))
        for db in sorted(self.databases):
            for folder in (db, db + FLIP_SUFFIX):
                if folder in present:
                    yield from walk_files(self.root, (".mat",), folder=self.root / folder)

    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, str(Path(item).with_suffix(".jpg").as_posix()), lambda: self._read(item))

    # -- parsing --------------------------------------------------------------------------------
    def flip_permutation(self) -> np.ndarray:
        if self._flip is None:
            self._flip = scheme_flip_permutation(self.scheme)
            if sorted(self._flip.tolist()) != list(range(NUM_POINTS)):
                raise ValueError(f"flip permutation of {self.scheme} is not a permutation of {NUM_POINTS}")
        return self._flip

    def _read(self, item: str) -> list[RawFace | Rejected]:
        mat_path = safe_join(self.root, item)
        relative = Path(item)
        folder = relative.parts[0]
        flipped = folder.endswith(FLIP_SUFFIX)
        db = folder[: -len(FLIP_SUFFIX)] if flipped else folder
        identity, face_index, k = parse_name(relative.stem, mat_path)
        image_name = relative.with_suffix(".jpg")
        image_path = require_image(safe_join(self.root, image_name))

        arrays = load_mat(mat_path, {"pt2d": (2, NUM_POINTS), "Pose_Para": (1, 7)}, {"roi": (1, 4)})
        require_finite(arrays["Pose_Para"], mat_path, "Pose_Para")
        if k == 0:
            points = arrays["pt2d"].T.astype(np.float64) - 1.0
            origin = "pt2d"
            mirrored = flipped
        else:
            points, origin, mirrored = self._profile_points(db, relative.stem, flipped, image_path)
        if mirrored:
            points = points[self.flip_permutation()]
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, mat_path)

        extra = {"database": db, "identity": identity, "face_index": face_index, "profile_step": k,
                 "flipped": flipped, "landmarks_from": origin}
        if "roi" in arrays:
            extra["roi"] = arrays["roi"].reshape(4).astype(np.int64)
        return [RawFace(self.name, image_name.as_posix(), image_path, self.scheme, points, visible,
                        hold_out_split(identity, self.val_fraction),
                        yaw=pose_yaw_degrees(arrays["Pose_Para"]), extra=extra)]

    def _load_pts3d(self, path: Path) -> np.ndarray:
        points = load_mat(path, {"pts_3d": (NUM_POINTS, 2)})["pts_3d"].astype(np.float64)
        return points - self.landmarks_offset

    def _profile_points(self, db: str, stem: str, flipped: bool,
                        image_path: Path) -> tuple[np.ndarray, str, bool]:
        """0-based points of a profiled (k > 0) image and whether they still need re-indexing."""
        landmarks = self.root / LANDMARKS_DIR
        name = f"{stem}_pts.mat"
        if flipped:
            own = safe_join(self.root, Path(LANDMARKS_DIR, db + FLIP_SUFFIX, name))
            if own.is_file():
                return self._load_pts3d(own), f"{LANDMARKS_DIR}/{db}{FLIP_SUFFIX}/{name}:pts_3d", True
        source = safe_join(self.root, Path(LANDMARKS_DIR, db, name))
        if not source.is_file():
            raise SourceError("stale_landmarks",
                              f"{image_path}: profiled image (k > 0) whose pt2d is the k = 0 copy, "
                              f"and {landmarks / db / name} is missing")
        points = self._load_pts3d(source)
        origin = f"{LANDMARKS_DIR}/{db}/{name}:pts_3d"
        if flipped:  # mirror the non-flipped points into the flipped image; order fixed by caller
            points = points.copy()
            points[:, 0] = image_size(image_path)[0] - 1.0 - points[:, 0]
            return points, origin + " (mirrored)", True
        return points, origin, False


__all__ = ["W300LPSource", "parse_name", "scheme_flip_permutation"]
