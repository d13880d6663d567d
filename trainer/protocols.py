"""3DDFA's AFLW protocol (docs/formats.md §1.2–§1.3): the 21 AFLW points are composed from the network's
68 iBUG points (``ibug68_fixed`` canonical names, index order), and the NME normaliser is √(w·h) of the
box of the **68-point** ground truth ``AFLW_GT_pts68.npy``, mapped into the frame the errors are
measured in.

The shards carry AFLW ground truth only for the 18 kept canonical names of ``aflw21``: the eye centres
and the mouth centre are dropped by the paper's rule 3, so only the 18 points with both a composed
prediction and a target are evaluated.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREDICTED_SCHEME = "ibug68_fixed"

#: 1-based 68-point indices of each AFLW point, in AFLW index order; several indices = their mean
#: (eye centres: the 6 eye-contour points, mouth centre: the 8 inner-lip points).
#: source: cleardusk/3DDFA benchmark_aflw.py (ind_68to21), quoted in docs/formats.md §1.3
IND_68TO21: tuple[tuple[int, ...], ...] = (
    (18,), (20,), (22,), (23,), (25,), (27,), (37,), tuple(range(37, 43)), (40,), (43,),
    tuple(range(43, 49)), (46,), (3,), (32,), (31,), (36,), (15,), (49,), tuple(range(61, 69)), (55,), (9,),
)

#: file names of the 3DDFA layout (``test.configs/`` + ``test.data/``, docs/formats.md §1.2)
PTS68_FILE = "AFLW_GT_pts68.npy"


def compose_aflw21(points68: np.ndarray) -> np.ndarray:
    """(…, 68, D) iBUG points → (…, 21, D) AFLW points by :data:`IND_68TO21` (NaN propagates)."""
    p = np.asarray(points68, dtype=np.float64)
    if p.shape[-2] != 68:
        raise ValueError(f"expected 68 points on axis -2, got shape {p.shape}")
    return np.stack([p[..., [i - 1 for i in group], :].mean(axis=-2) for group in IND_68TO21], axis=-2)


@dataclass(frozen=True)
class AFLWPlan:
    """Which of the 68 points the decoder predicts (``predicted``: 0-based iBUG indices, ``vertices``)
    and which AFLW points are evaluated (``evaluated``: AFLW indices, ``gt_names``: their canonical
    names, ``gt_columns``: their shard columns); ``skipped`` says why the others are not."""

    predicted: np.ndarray
    vertices: np.ndarray
    evaluated: np.ndarray
    gt_names: list[str]
    gt_columns: np.ndarray
    skipped: dict[int, str]

    def to_aflw(self, predicted_points: np.ndarray) -> np.ndarray:
        """(N, len(predicted), D) decoder points → (N, len(evaluated), D) composed AFLW points."""
        p = np.asarray(predicted_points, dtype=np.float64)
        full = np.full(p.shape[:-2] + (68, p.shape[-1]), np.nan)
        full[..., self.predicted, :] = p
        return compose_aflw21(full)[..., self.evaluated, :]

    def label(self) -> str:
        """What the row's landmark column says."""
        centres = [i for i, why in self.skipped.items() if why == "no ground truth in the shards"]
        other = {i: why for i, why in self.skipped.items() if i not in centres}
        text = (f"{len(self.evaluated)} AFLW points with ground truth (of 21), composed from the predicted "
                f"{PREDICTED_SCHEME} points (3DDFA ind_68to21)")
        if centres:
            text += (f"; AFLW indices {', '.join(str(i) for i in centres)} (eye centres, mouth centre) "
                     f"are not in the shards")
        if other:
            text += "; not evaluated: " + ", ".join(f"{i} ({why})" for i, why in other.items())
        return text


def aflw_plan(shard_names: Sequence[str], vertex_map: Mapping[str, int]) -> AFLWPlan:
    """The protocol's points for a shard set's landmark names and a canonical name → vertex map."""
    from landmark_fusion.correspondence import load_scheme
    from landmark_fusion.sources.aflw import SCHEME

    names68 = load_scheme(PREDICTED_SCHEME).index_to_name
    aflw_names = load_scheme(SCHEME).index_to_name
    predicted_vertex = {i: vertex_map[n] for i, n in enumerate(names68) if n is not None and n in vertex_map}
    predicted = list(predicted_vertex)
    have = set(predicted)
    columns = {n: i for i, n in enumerate(shard_names)}
    evaluated, skipped = [], {}
    for j, (name, group) in enumerate(zip(aflw_names, IND_68TO21, strict=True)):
        missing = [names68[i - 1] for i in group if i - 1 not in have]
        if name is None:
            skipped[j] = "no ground truth in the shards"
        elif name not in columns:
            skipped[j] = f"{name} is not a shard landmark"
        elif missing:
            skipped[j] = f"no vertex for {', '.join(str(m) for m in missing)}"
        else:
            evaluated.append(j)
    if not evaluated:
        raise ValueError(f"no AFLW point can be evaluated: {skipped}")
    gt_names = [str(aflw_names[j]) for j in evaluated]
    return AFLWPlan(np.array(predicted, np.int64), np.array(list(predicted_vertex.values()), np.int64),
                    np.array(evaluated, np.int64), gt_names, np.array([columns[n] for n in gt_names], np.int64),
                    skipped)


class Pts68Normaliser:
    """3DDFA's AFLW normaliser from ``AFLW_GT_pts68.npy`` ((N, 2 or 3, 68), 1-based points in the
    450-px frame like ``AFLW_GT_pts21.npy``; x = −1 marks a missing point). Row *i* belongs to line *i*
    of ``AFLW_GT_crop.list``; the roi box of that row (``AFLW_GT_crop_roi_box.npy``) maps the points
    into the 120-px crop exactly as the AFLW reader maps the 21 points.

    ``list_path`` defaults to ``<pts68>/../../test.data/AFLW_GT_crop.list`` and ``roi_path`` to the roi
    file beside ``pts68`` (3DDFA's layout). Arrays are memory-mapped."""

    def __init__(self, pts68_path: str | Path, list_path: str | Path | None = None,
                 roi_path: str | Path | None = None) -> None:
        from landmark_fusion.sources.aflw import CROP_DIR, LIST_FILE, ROI_FILE

        pts68_path = Path(pts68_path)
        root = pts68_path.parent.parent
        self.pts68_path = pts68_path
        self.list_path = Path(list_path) if list_path else root / LIST_FILE
        self.roi_path = Path(roi_path) if roi_path else pts68_path.parent / Path(ROI_FILE).name
        for path in (pts68_path, self.list_path, self.roi_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: not found (needed for the 68-point AFLW normaliser)")
        from landmark_fusion.safeload import load_npy  # refuses pickled arrays with a message

        self.pts68 = load_npy(pts68_path, mmap_mode="r")
        self.roi = load_npy(self.roi_path, mmap_mode="r")
        with open(self.list_path, encoding="utf-8") as listing:
            self.rows = {f"{CROP_DIR}/{line.strip()}": i for i, line in enumerate(listing) if line.strip()}
        n = len(self.rows)
        if self.pts68.ndim != 3 or self.pts68.shape[1] not in (2, 3) or self.pts68.shape[2] != 68:
            raise ValueError(f"{pts68_path}: shape {self.pts68.shape}, expected (N, 2 or 3, 68)")
        if self.pts68.shape[0] != n or self.roi.shape != (n, 4):
            raise ValueError(f"{pts68_path}, {self.roi_path}, {self.list_path}: {self.pts68.shape[0]} point rows, "
                             f"roi shape {self.roi.shape} and {n} list lines do not match")

    def crop_points(self, sample_id: str) -> np.ndarray | None:
        """(68, 2) points in the 120-px AFLW crop (NaN where missing), or None for a sample not listed."""
        from landmark_fusion.sources.aflw import crop_coordinates, unmark_points
        from landmark_fusion.sources.layout import missing_to_nan

        row = self.rows.get(str(sample_id))
        if row is None:
            return None
        frame, visible = unmark_points(np.array(self.pts68[row, :2], np.float64).T)
        return missing_to_nan(crop_coordinates(frame, np.array(self.roi[row], np.float64)), visible)

    def normaliser(self, sample_id: str, crop_to_image: np.ndarray, to_input: np.ndarray) -> float:
        """√(w·h) of the 68-point box in the frame given by ``to_input`` (shard crop → evaluation frame),
        after the inverse of the shard's ``crop_to_image``; NaN for a sample not listed."""
        from landmark_fusion.crop import apply_affine, compose_affine, invert_affine, norm_size

        points = self.crop_points(sample_id)
        if points is None:
            return float("nan")
        visible = np.isfinite(points).all(axis=1)
        if not visible.any():
            return float("nan")
        to_frame = compose_affine(np.asarray(to_input, np.float64), invert_affine(crop_to_image))
        return norm_size(apply_affine(to_frame, points[visible]), np.ones(int(visible.sum()), bool))


def pts68_normalisers(normaliser: Pts68Normaliser, sample_ids: Sequence[str], crop_to_image: np.ndarray,
                      to_input: np.ndarray) -> np.ndarray:
    """(N,) normalisers of :class:`Pts68Normaliser` for rows given by sample id and affines."""
    rows = zip(sample_ids, crop_to_image, to_input, strict=True)
    return np.array([normaliser.normaliser(s, c, a) for s, c, a in rows], np.float64)
