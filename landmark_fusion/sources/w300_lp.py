"""300W-LP reader: ``<DB>/<DB>_<id>_<face>_<k>.mat`` + ``.jpg``, the mirrored ``<DB>_Flip/``, and
the 3-D-consistent points of ``landmarks/<DB>/<name>_pts.mat``.

Facts (source: docs/formats.md §3 and the real AFW files of the release, see docs/databases.md):

* ``landmarks/<DB>/<name>_pts.mat`` holds ``pts_3d`` and ``pts_2d``, both (68, 2) float32, for
  every pose ``k``. ``pts_3d`` are the 68 "fixed" points of the fitted 3-D face (scheme
  ``ibug68_fixed``). ``pts_2d`` are the same fitted points with the jaw half that faces away from
  the camera moved onto the visible contour: equal to ``pts_3d`` on the 51 non-jaw points and on
  the visible jaw half, a fit, not the annotation (it differs from ``pt2d`` by 4.3 px on average).
  ``pts_2d`` is not read.
* ``pt2d`` (2, 68) of the main ``.mat`` is the original 2-D annotation, 1-based MATLAB pixels of
  the 450x450 image, with a jaw that follows the visible contour: on the 337 ``k = 0`` AFW faces
  its 17 jaw points lie 9.7 px (Euclidean; 6.2 px per coordinate) from ``pts_3d`` on average, so it
  is read under the 2-D scheme ``ibug68`` (contour jaw dropped, as for 300W), never as fixed
  points. It is only right for ``k = 0``: synthesised poses keep the ``k = 0`` points bit for bit.
* Which points a face gets: its ``_pts.mat`` when there is one (any ``k``), read as
  ``ibug68_fixed``; otherwise, for ``k = 0``, ``pt2d`` as ``ibug68``; otherwise (``k > 0``) the face
  is rejected as ``stale_landmarks``.
* ``pts_3d`` is 1-based like ``pt2d`` (option ``landmarks_one_based``): over the 41 nose, eye and
  mouth points of the 337 ``k = 0`` AFW faces, ``pt2d - pts_3d`` averages (+0.48, -0.46) px
  (standard errors 0.03, 0.02) where a 0-based ``pts_3d`` would give (+1, +1); AFLW2000-3D, made
  by the same pipeline, shows the same pattern between its annotation and its 1-based
  ``pt3d_68`` (+0.23, -0.23 px over 2000 faces).
* ``_Flip`` files mirror x (``x' = W + 1 - x``, W = 450) but keep the index order, so index 0 lies
  on the image-right side. The reader re-indexes them with the scheme's flip permutation from the
  vocabulary, so every face comes out with iBUG semantics. The ``_pts.mat`` of a ``_Flip`` image
  is looked up in ``landmarks/<DB>_Flip/`` (treated like the flipped ``.mat``: mirrored x, original
  order); where absent -- the release has only ``landmarks/<DB>/`` -- the non-flipped ``pts_3d``
  is mirrored with the width of the flipped image (0-based ``x' = W - 1 - x``) and re-indexed, so
  a flipped face takes the same kind of points as its original.
* Yaw = degrees(``Pose_Para[0][1]``), positive = towards image-left; ``_Flip`` files store their own
  (negated) pose. Pose and ``roi`` are optional: a defect there leaves them out with a note in
  ``extra['notes']`` and keeps the face.

Split: the paper holds out part of 300W-LP for validation; here a face goes to ``val`` by a hash of
its identity ``<DB>_<id>`` (all faces, profiles and flips of one source image land together),
``val_fraction`` (default 0.05) of the identities.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from landmark_fusion.correspondence import load_scheme

from .base import RawFace, Rejected, SourceError, check_points, image_size, safe_join, safe_join_text
from .layout import (
    ROOT_ID,
    guarded,
    hold_out_split,
    list_dirs,
    passes_rejections,
    require_image,
    walk_files,
    wrong_layout,
)
from .matfiles import load_mat, optional_yaw

NUM_POINTS = 68
SCHEME = "ibug68_fixed"
#: scheme of a k = 0 face read from its 2-D annotation ``pt2d`` (no ``_pts.mat``)
SCHEME_2D = "ibug68"
DATABASES = ("AFW", "HELEN", "IBUG", "LFPW")
FLIP_SUFFIX = "_Flip"
LANDMARKS_DIR = "landmarks"
#: folders of the release that hold no faces and are not read
IGNORED_DIRS = ("Code",)
_NAME = re.compile(r"^(?P<identity>.+)_(?P<face>\d+)_(?P<k>\d+)$")


def scheme_flip_permutation(scheme: str = SCHEME) -> np.ndarray:
    """The native-index mirror permutation of ``scheme``, from the correspondence vocabulary."""
    return np.asarray(load_scheme(scheme).flip_permutation(), dtype=np.int64)


def parse_name(stem: str, path: Path | str) -> tuple[str, int, int]:
    """``<DB>_<id>_<face>_<k>`` → (identity ``<DB>_<id>``, face index, profiling step k)."""
    match = _NAME.match(stem)
    if not match:
        raise SourceError("corrupt_annotation", f"{path}: file name is not <DB>_<id>_<face>_<k>")
    return match["identity"], int(match["face"]), int(match["k"])


class W300LPSource:
    """Reads 300W-LP (scheme ``ibug68_fixed``; ``ibug68`` for a k = 0 face without ``_pts.mat``)."""

    name = "300w_lp"
    scheme = SCHEME

    def __init__(self, root: Path, val_fraction: float = 0.05, databases: Sequence[str] = DATABASES,
                 landmarks_one_based: bool = True, flip_permutation: Sequence[int] | None = None) -> None:
        """``flip_permutation`` overrides the vocabulary's (for a scheme file under test)."""
        self.root = Path(root)
        self.val_fraction = float(val_fraction)
        self.databases = tuple(databases)
        self.landmarks_offset = 1.0 if landmarks_one_based else 0.0
        self._override = None if flip_permutation is None else np.asarray(flip_permutation, dtype=np.int64)
        self._flips: dict[str, np.ndarray] = {}

    # -- items ----------------------------------------------------------------------------------
    def _expected(self) -> str:
        folders = ", ".join(f"{db}/, {db}{FLIP_SUFFIX}/" for db in sorted(self.databases))
        return f"the folders {folders} (any of them) and optionally {LANDMARKS_DIR}/"

    def items(self) -> Iterator[str | Rejected]:
        """Root-relative ``.mat`` paths of ``<DB>`` then ``<DB>_Flip`` for each database, sorted.

        A folder of the root that is none of 300W-LP's is named as ``wrong_layout``.
        """
        try:
            present = list_dirs(self.root)
        except OSError as error:
            yield Rejected(self.name, ROOT_ID, "unreadable_folder",
                           f"{self.root}: cannot list the folder ({error.strerror or error})")
            return
        wanted = [folder for db in sorted(self.databases) for folder in (db, db + FLIP_SUFFIX)]
        known = {folder for db in DATABASES for folder in (db, db + FLIP_SUFFIX)}
        known |= set(wanted) | {LANDMARKS_DIR, *IGNORED_DIRS}
        if not set(wanted) & set(present):
            yield wrong_layout(self.name, self.root, self._expected())
            return
        for folder in present:
            if folder not in known and not folder.startswith("."):
                yield Rejected(self.name, folder + "/", "wrong_layout",
                               f"{self.root / folder}: not a folder of 300W-LP (expected "
                               f"{self._expected()}); not read")
        for folder in wanted:
            if folder in present:
                yield from walk_files(self.root, (".mat",), self.name, folder=self.root / folder)

    def sample_id(self, item: str) -> str:
        return _image_name(item)

    @passes_rejections
    def read(self, item: str) -> list[RawFace | Rejected]:
        return guarded(self.name, self.sample_id(item), lambda: self._read(item))

    # -- parsing --------------------------------------------------------------------------------
    def flip_permutation(self, scheme: str = SCHEME) -> np.ndarray:
        """Native-index mirror permutation of ``scheme`` (the option's, if given)."""
        perm = self._flips.get(scheme)
        if perm is None:
            perm = self._override if self._override is not None else scheme_flip_permutation(scheme)
            if sorted(perm.tolist()) != list(range(NUM_POINTS)):
                raise ValueError(f"flip permutation of {scheme} is not a permutation of {NUM_POINTS}")
            self._flips[scheme] = perm
        return perm

    def _read(self, item: str) -> list[RawFace | Rejected]:
        # the item is a root-relative POSIX name (walk_files): plain string operations, no Path
        # objects per face beyond the files'
        mat_path = safe_join_text(self.root, item)
        folder = item.split("/", 1)[0]
        stem = os.path.splitext(item.rsplit("/", 1)[-1])[0]
        flipped = folder.endswith(FLIP_SUFFIX)
        db = folder[: -len(FLIP_SUFFIX)] if flipped else folder
        identity, face_index, k = parse_name(stem, mat_path)
        image_name = _image_name(item)
        image_path = require_image(safe_join(self.root, image_name))
        notes: list[str] = []
        optional = {"Pose_Para": (1, 7), "roi": (1, 4)}

        landmarks = self._landmarks_file(db, stem, flipped)
        if landmarks is not None:
            where, origin, own_flip = landmarks
            points = self._load_pts3d(where)
            if flipped and not own_flip:  # mirror the non-flipped points into the flipped image
                points[:, 0] = image_size(image_path)[0] - 1.0 - points[:, 0]
                origin += " (mirrored)"
            scheme = SCHEME
            try:  # the points are complete; pose and roi of the main .mat are extras here
                arrays = load_mat(mat_path, {}, optional, notes)
            except SourceError as error:
                notes.append(f"{error.detail}: pose and roi unknown")
                arrays = {}
        elif k == 0:
            arrays = load_mat(mat_path, {"pt2d": (2, NUM_POINTS)}, optional, notes)
            points = arrays["pt2d"].T.astype(np.float64) - 1.0
            where, origin, scheme = mat_path, "pt2d", SCHEME_2D
        else:
            raise SourceError("stale_landmarks",
                              f"{image_path}: profiled image (k > 0) whose pt2d is the k = 0 copy, "
                              f"and {self.root / LANDMARKS_DIR / db / (stem + '_pts.mat')} "
                              f"is missing")
        if flipped:
            points = points[self.flip_permutation(scheme)]
        visible = np.ones(NUM_POINTS, dtype=bool)
        check_points(points, visible, NUM_POINTS, where)

        extra = {"database": db, "identity": identity, "face_index": face_index, "profile_step": k,
                 "flipped": flipped, "landmarks_from": origin}
        if "roi" in arrays:
            extra["roi"] = arrays["roi"].reshape(4).astype(np.int64)
        yaw = optional_yaw(arrays, notes)
        if notes:
            extra["notes"] = notes
        return [RawFace(self.name, image_name, image_path, scheme, points, visible,
                        hold_out_split(identity, self.val_fraction), yaw=yaw, extra=extra)]

    def _load_pts3d(self, path: str) -> np.ndarray:
        points = load_mat(path, {"pts_3d": (NUM_POINTS, 2)})["pts_3d"].astype(np.float64)
        return points - self.landmarks_offset

    def _landmarks_file(self, db: str, stem: str, flipped: bool) -> tuple[str, str, bool] | None:
        """``(path, origin label, True if it is a _Flip file)`` of the face's ``_pts.mat``, or None."""
        name = f"{stem}_pts.mat"
        folders = ([db + FLIP_SUFFIX] if flipped else []) + [db]
        for folder in folders:
            relative = f"{LANDMARKS_DIR}/{folder}/{name}"
            if os.path.isfile(path := safe_join_text(self.root, relative)):
                return path, f"{relative}:pts_3d", folder != db
        return None


def _image_name(item: str) -> str:
    """The root-relative name of the image of the ``.mat`` item (same stem, ``.jpg``)."""
    return os.path.splitext(item)[0] + ".jpg"


__all__ = ["W300LPSource", "parse_name", "scheme_flip_permutation"]
