"""The landmark fit itself: for each face the best of several yaw starts, each a pose step, then
shape and pose steps alternated (:mod:`.fit_pose`, :mod:`.fit_shape`), in chunks of faces; the
result per face (:class:`FitResult`) and the fitted meshes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..geometry import project, rodrigues, rotation_to_euler, rotation_vector
from .fit_model import LandmarkModel
from .fit_objective import FitState, nme_normaliser, quiet_nan, total_cost
from .fit_pose import pose_step, similarity_start
from .fit_shape import shape_step
from .model import FaceModel

#: Yaw angles (degrees, positive = face turned towards image-left) tried as starting poses.
DEFAULT_YAW_INITS = (60.0, 0.0, -60.0)


@dataclass
class FitResult:
    """Per-face fitted parameters and errors; errors are fractions of the NME normaliser."""

    scale: np.ndarray          # (B,)
    rotation: np.ndarray       # (B, 3) so(3) vector
    translation: np.ndarray    # (B, 2) image pixels
    coeffs: np.ndarray         # (B, M) identity, expression, correction (std-dev units)
    n_id: int
    n_exp: int
    projected: np.ndarray      # (B, L, 2) fitted landmarks in image pixels
    point_error: np.ndarray    # (B, L) ‖q - y‖ / d, NaN where not annotated
    normaliser: np.ndarray     # (B,) d
    cost: np.ndarray           # (B,) final objective
    extra: dict = field(default_factory=dict)

    @property
    def x_id(self) -> np.ndarray:
        return self.coeffs[:, :self.n_id]

    @property
    def x_exp(self) -> np.ndarray:
        return self.coeffs[:, self.n_id:self.n_id + self.n_exp]

    @property
    def x_corr(self) -> np.ndarray:
        return self.coeffs[:, self.n_id + self.n_exp:]

    @property
    def rotation_matrix(self) -> np.ndarray:
        return rodrigues(self.rotation)

    @property
    def nme(self) -> np.ndarray:
        """Per-face NME (mean over annotated points of the normalised error), (B,)."""
        with quiet_nan():
            return np.nanmean(self.point_error, axis=1)

    @property
    def yaw(self) -> np.ndarray:
        """Degrees, positive = face turned towards image-left: the yaw of the ``Pose_Para``
        convention (:func:`landmark_fusion.geometry.rotation_to_euler`), as the RawFace labels."""
        return np.rad2deg(rotation_to_euler(self.rotation_matrix)[1])

    def rows(self, sl: slice) -> FitResult:
        """The result of the faces in ``sl`` (``extra`` is left out)."""
        return FitResult(self.scale[sl], self.rotation[sl], self.translation[sl], self.coeffs[sl],
                         self.n_id, self.n_exp, self.projected[sl], self.point_error[sl],
                         self.normaliser[sl], self.cost[sl])


def _fit_chunk(lm: LandmarkModel, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               yaw_inits: Sequence[float], alternations: int, pose_iterations: int,
               fit_shape: bool) -> tuple[FitState, np.ndarray]:
    """Fit one chunk of usable faces: the best start per face, then the remaining alternations."""
    n = np.maximum(m.sum(1), 1).astype(np.float64)
    best: FitState | None = None
    best_cost = np.zeros(0)
    for yaw in yaw_inits:
        st = similarity_start(lm, y, m, yaw)
        st = pose_step(lm.shape(st.c), st, y, m, d, n, pose_iterations)
        if fit_shape:
            st = shape_step(lm, st, y, m, d, n)
            st = pose_step(lm.shape(st.c), st, y, m, d, n, pose_iterations // 2 + 1)
        cost = total_cost(lm, st, y, m, d, n)
        if best is None:
            best, best_cost = st, cost
            continue
        ok = cost < best_cost
        best = FitState(np.where(ok, st.s, best.s), np.where(ok[:, None, None], st.R, best.R),
                        np.where(ok[:, None], st.t, best.t), np.where(ok[:, None], st.c, best.c))
        best_cost = np.where(ok, cost, best_cost)
    assert best is not None
    if fit_shape:
        for _ in range(max(alternations - 1, 0)):
            best = shape_step(lm, best, y, m, d, n)
            best = pose_step(lm.shape(best.c), best, y, m, d, n, pose_iterations // 2 + 1)
    return best, total_cost(lm, best, y, m, d, n)


def fit_landmarks(lm: LandmarkModel, points: np.ndarray, mask: np.ndarray | None = None, *,
                  yaw_inits: Sequence[float] = DEFAULT_YAW_INITS, alternations: int = 4,
                  pose_iterations: int = 12, fit_shape: bool = True,
                  batch_size: int = 512) -> FitResult:
    """Fit pose and shape to ``points`` (B, L, 2) image pixels (y down), rows matching
    ``lm``'s landmarks; ``mask`` (B, L) marks annotated points. Faces with fewer than 4 annotated
    points (or a degenerate box) get NaN errors and an identity pose."""
    y = np.asarray(points, dtype=np.float64)
    if y.ndim != 3 or y.shape[1:] != (lm.num_points, 2):
        raise ValueError(f"points must be (B, {lm.num_points}, 2), got {y.shape}")
    m = np.asarray(np.isfinite(y).all(-1))
    if mask is not None:
        m = np.asarray(mask, bool) & m
    y = np.where(m[..., None], y, 0.0)
    d = nme_normaliser(y, m)
    usable = np.isfinite(d) & (m.sum(1) >= 4)
    m = m & usable[:, None]
    d_safe = np.where(usable, d, 1.0)
    b = len(y)
    out_s, out_r = np.ones(b), np.tile(np.eye(3), (b, 1, 1))
    out_t, out_c = np.zeros((b, 2)), np.zeros((b, lm.basis.shape[0]))
    out_cost = np.full(b, np.nan)
    idx = np.flatnonzero(usable)
    for start in range(0, len(idx), batch_size):
        sel = idx[start:start + batch_size]
        st, cost = _fit_chunk(lm, y[sel], m[sel], d_safe[sel], yaw_inits, alternations,
                              pose_iterations, fit_shape)
        out_s[sel], out_r[sel], out_t[sel], out_c[sel], out_cost[sel] = st.s, st.R, st.t, st.c, cost
    proj = project(lm.shape(out_c), out_s, out_r, out_t, depth=False)
    err = np.linalg.norm(proj - y, axis=-1) / d_safe[:, None]
    err = np.where(m, err, np.nan)
    return FitResult(scale=out_s, rotation=rotation_vector(out_r), translation=out_t, coeffs=out_c,
                     n_id=lm.n_id, n_exp=lm.n_exp, projected=proj, point_error=err,
                     normaliser=np.where(usable, d, np.nan), cost=out_cost)


def fitted_vertices(model: FaceModel, result: FitResult, vertices: np.ndarray | None = None,
                    correction: np.ndarray | None = None) -> np.ndarray:
    """Model-frame positions (B, V, 3) of ``vertices`` (all by default) for the fitted shapes."""
    idx = np.arange(np.asarray(model.mean).shape[0]) if vertices is None else np.asarray(vertices)
    x = np.asarray(model.mean, dtype=np.float64)[idx][None].repeat(len(result.scale), 0)
    x = x + np.tensordot(result.x_id, np.asarray(model.id_basis[:result.n_id], np.float64)[:, idx], 1)
    x = x + np.tensordot(result.x_exp, np.asarray(model.exp_basis[:result.n_exp], np.float64)[:, idx], 1)
    if correction is not None and result.x_corr.shape[1]:
        x = x + np.tensordot(result.x_corr, np.asarray(correction, np.float64)[:, idx], 1)
    return x
