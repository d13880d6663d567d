"""Correspondence diagnostics built on the landmark fit: how far each landmark of a model vertex table
lies from the annotations of many faces (:func:`landmark_residuals`, what ``fuse corr check``
reports), and the vertex that fits a landmark best (:func:`suggest_vertices`, ``fuse corr
suggest``). A wrong vertex shows as a landmark whose residual stands far above the others."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geometry import project, rodrigues, vertex_normals
from .fit_loop import FitResult, fit_landmarks, fitted_vertices
from .fit_model import LandmarkModel
from .fit_objective import quiet_nan
from .model import FaceModel


@dataclass
class AnnotatedFaces:
    """2-D landmarks of many faces on the canonical-name axis (any frame per face, y down)."""

    names: list[str]
    points: np.ndarray        # (F, L, 2) float32
    mask: np.ndarray          # (F, L) bool
    source: np.ndarray        # (F,) int index into source_names
    source_names: list[str]

    def __len__(self) -> int:
        return len(self.points)

    def counts_by_source(self, rows: np.ndarray | None = None) -> dict[str, int]:
        src = self.source if rows is None else self.source[rows]
        return {self.source_names[i]: int((src == i).sum()) for i in np.unique(src)}

    def describe(self, rows: np.ndarray | None = None) -> str:
        """``"300w: 6 faces, aflw2000_3d: 2000 faces"`` for provenance records."""
        return ", ".join(f"{k}: {v} faces" for k, v in self.counts_by_source(rows).items())


@dataclass
class ResidualReport:
    """Per-landmark fit residuals (in % of the NME normaliser) over many faces."""

    names: list[str]
    mean: np.ndarray
    median: np.ndarray
    count: np.ndarray
    nme: float                # mean per-face NME, %
    faces: int
    flagged: list[str]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per landmark, worst mean first."""
        order = np.argsort(-np.nan_to_num(self.mean, nan=-1.0))
        return [{"name": self.names[i], "mean": float(self.mean[i]), "median": float(self.median[i]),
                 "count": int(self.count[i]), "flagged": self.names[i] in self.flagged}
                for i in order if self.count[i] > 0]


def flag_outliers(values: np.ndarray, factor: float = 2.0, mads: float = 4.0) -> np.ndarray:
    """Entries standing out of the rest: above ``factor`` × the median and above median + ``mads``
    robust standard deviations (1.4826·MAD)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return np.zeros_like(ok)
    med = np.median(v[ok])
    mad = 1.4826 * np.median(np.abs(v[ok] - med))
    return ok & (v > factor * med) & (v > med + mads * max(mad, 1e-9))


def landmark_residuals(model: FaceModel, vertices: np.ndarray, faces: AnnotatedFaces,
                       **fit_options: Any) -> tuple[ResidualReport, FitResult]:
    """Fit ``model`` to every face on the names that have a vertex (``vertices`` −1 = none) and
    report each landmark's residual; a wrong vertex shows as a landmark far above the others."""
    has = np.asarray(vertices) >= 0
    cols = np.flatnonzero(has)
    lm = LandmarkModel.from_model(model, np.asarray(vertices)[cols], **_model_options(fit_options))
    result = fit_landmarks(lm, faces.points[:, cols], faces.mask[:, cols], **fit_options)
    err = 100.0 * result.point_error
    n = len(faces.names)
    mean, median, count = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    with quiet_nan():
        mean[cols] = np.nanmean(err, axis=0)
        median[cols] = np.nanmedian(err, axis=0)
    count[cols] = np.isfinite(err).sum(0)
    mean[count == 0] = np.nan
    median[count == 0] = np.nan
    flagged = [faces.names[i] for i in np.flatnonzero(flag_outliers(mean))]
    with quiet_nan():
        nme = float(np.nanmean(100.0 * result.nme)) if np.isfinite(result.nme).any() else float("nan")
    report = ResidualReport(list(faces.names), mean, median, count, nme,
                            int(np.isfinite(result.nme).sum()), flagged)
    return report, result


_MODEL_KEYS = ("n_id", "n_exp", "w_id", "w_exp", "correction", "w_corr")


def _model_options(options: dict[str, Any]) -> dict[str, Any]:
    """Split the :meth:`LandmarkModel.from_model` options out of ``options`` (in place)."""
    return {k: options.pop(k) for k in _MODEL_KEYS if k in options}


@dataclass
class VertexSuggestion:
    """The vertex chosen for one landmark and the runners-up (errors in % of the face size)."""

    name: str
    vertex: int
    error: float
    faces: int
    data: str
    candidates: list[tuple[int, float, int]]   # (vertex, mean error %, faces voting for it)
    previous: tuple[int, float] | None = None  # the vertex given for the landmark and its mean error %


def suggest_vertices(model: FaceModel, vertices: np.ndarray, faces: AnnotatedFaces, names: Sequence[str],
                     min_faces: int = 3, chunk: int = 128,
                     **fit_options: Any) -> list[VertexSuggestion]:
    """Estimate the vertex of each of ``names``: fit every face on the landmarks other than
    ``names`` (one fit serves them all), back-project each annotated point onto the fitted mesh
    (the nearest camera-facing vertex in the image), and among these back-projected vertices choose
    the one with the least mean reprojection error over the faces annotating that landmark."""
    cols = [faces.names.index(n) for n in names]
    vertices = np.asarray(vertices).copy()
    given = vertices[cols].copy()
    vertices[cols] = -1
    others = np.flatnonzero(vertices >= 0)
    rows = np.flatnonzero(faces.mask[:, cols].any(1))
    for n, j in zip(names, cols, strict=False):
        if faces.mask[:, j].sum() < min_faces:
            raise ValueError(f"{n}: annotated on {int(faces.mask[:, j].sum())} faces, need at least {min_faces}")
    model_opts = _model_options(fit_options)
    lm = LandmarkModel.from_model(model, vertices[others], **model_opts)
    result = fit_landmarks(lm, faces.points[rows][:, others], faces.mask[rows][:, others], **fit_options)
    good = np.isfinite(result.normaliser)
    normals = vertex_normals(np.asarray(model.mean), np.asarray(model.triangles))
    n_vert = np.asarray(model.mean).shape[0]
    err_sum = np.zeros((len(cols), n_vert))
    votes = np.zeros((len(cols), n_vert), dtype=np.int64)
    used = np.zeros(len(cols), dtype=np.int64)
    correction = model_opts.get("correction")
    for start in range(0, len(rows), chunk):
        sl = slice(start, start + chunk)
        part = result.rows(sl)
        proj = project(fitted_vertices(model, part, correction=correction), part.scale,
                       rodrigues(part.rotation), part.translation, depth=False)
        facing = (normals @ np.swapaxes(rodrigues(part.rotation), 1, 2))[..., 2] > 0.0
        d = np.where(good[sl], part.normaliser, 1.0)[:, None]
        for k, j in enumerate(cols):
            ok = good[sl] & faces.mask[rows[sl], j]
            target = faces.points[rows[sl], j].astype(np.float64)
            dist = np.linalg.norm(proj - target[:, None, :], axis=-1) / d
            err_sum[k] += np.where(ok[:, None], dist, 0.0).sum(0)
            near = np.where(facing, dist, np.inf).argmin(1)
            np.add.at(votes[k], near[ok], 1)
            used[k] += int(ok.sum())
    out = []
    for k, (n, j) in enumerate(zip(names, cols, strict=False)):
        if used[k] < min_faces:
            raise ValueError(f"{n}: only {int(used[k])} faces could be fitted on the other landmarks")
        mean_err = 100.0 * err_sum[k] / used[k]
        cands = np.flatnonzero(votes[k] > 0)
        order = cands[np.argsort(mean_err[cands])]
        best = int(order[0])
        src_rows = rows[good & faces.mask[rows, j]]
        previous = (int(given[k]), float(mean_err[given[k]])) if given[k] >= 0 else None
        out.append(VertexSuggestion(n, best, float(mean_err[best]), int(used[k]), faces.describe(src_rows),
                                    [(int(v), float(mean_err[v]), int(votes[k, v])) for v in order[:8]],
                                    previous))
    return out
