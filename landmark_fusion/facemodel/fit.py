"""Fit a linear face model to the 2-D landmarks of many faces at once (batched, vectorised numpy).

What is fitted per face (paper §3.1): weak-perspective pose ``s`` (scale), ``R`` (rotation, reported
as an so(3) vector) and ``t`` (2-D translation), identity and expression coefficients in standard
deviation units, and optionally correction coefficients (manifold harmonics, §3.2: the basis E_c of
:func:`landmark_fusion.facemodel.harmonics.correction_basis`, one unit = 1 mm RMS). The objective is
Eq. 1 of the paper on a fit instead of a network::

    mean over annotated points of ‖(q - y) / d‖²  +  w_id‖x_id‖² + w_exp‖x_exp‖² + w_c‖x_c‖²

with ``d`` the face's NME normaliser (√(w·h) of the box around its annotated points), so the data
term is unit-free and the same weights suit faces of any size and models of any unit.

Projection: the weak perspective of :mod:`landmark_fusion.geometry` (model axes +y up, image axes
y down)::

    p = R · X                      (model frame, rotated)
    q = s · (p_x, -p_y) + t        (image pixels: the y axis is flipped)

Solver: Levenberg-Marquardt on the pose (log-scale, left-multiplied Rodrigues increment, shift),
then the shape coefficients in closed form (linear least squares with the Tikhonov regulariser),
alternated a few times. The pose starts from a 2-D similarity fit of the mean shape rotated by each
of several yaw angles (profiles need a turned start), keeping the best start per face.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..geometry import (axis_rotation, euler_to_rotation, image_jacobian, project, rodrigues,
                        rotation_to_euler, rotation_vector, vertex_normals)

#: Default prior weights, for the unit-free data term above (fraction-of-face-size squared).
DEFAULT_W_ID = 2e-5
DEFAULT_W_EXP = 2e-5
#: Correction prior per coefficient (one unit = 1 mm RMS), the identity prior's weight per standard
#: deviation. Measured on 200 AFLW2000-3D faces, 20 harmonics: NME 1.63 → 1.29 % (SFM), 1.87 → 1.32 %
#: (ICT), coefficients 0.3-0.5 mm RMS; at 1e-3 the field moves 0.01 mm and changes nothing.
DEFAULT_W_CORR = 1e-5
#: Yaw angles (degrees, positive = face turned towards image-left) tried as starting poses.
DEFAULT_YAW_INITS = (60.0, 0.0, -60.0)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def yaw_start(degrees: float) -> np.ndarray:
    """The head rotation of a starting pose turned by ``degrees`` of yaw (positive = towards
    image-left, the label convention of :mod:`landmark_fusion.geometry`)."""
    return euler_to_rotation(0.0, np.deg2rad(degrees), 0.0)


def nme_normaliser(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """√(w·h) of the box around each face's annotated points (B,); the paper's face size."""
    big = np.where(mask[..., None], points, np.nan)
    with np.errstate(invalid="ignore"), _quiet_nan():
        lo = np.nanmin(big, axis=1)
        hi = np.nanmax(big, axis=1)
    size = hi - lo
    d = np.sqrt(np.clip(size[:, 0] * size[:, 1], 0.0, None))
    return np.where(np.isfinite(d) & (d > 0), d, np.nan)


class _quiet_nan:
    """Silences numpy's all-NaN slice warnings for faces without points."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


# --------------------------------------------------------------------------------------------
# The model restricted to the landmark vertices
# --------------------------------------------------------------------------------------------

@dataclass
class LandmarkModel:
    """A face model's mean and bases at the landmark vertices, with the prior weight of every
    component. ``basis`` stacks identity, expression and correction components in that order."""

    mean: np.ndarray          # (L, 3)
    basis: np.ndarray         # (M, L, 3)
    weights: np.ndarray       # (M,) Tikhonov weight of each coefficient
    n_id: int
    n_exp: int
    n_corr: int = 0

    @classmethod
    def from_model(cls, model: Any, vertices: Sequence[int], *, n_id: int | None = None,
                   n_exp: int | None = None, w_id: float = DEFAULT_W_ID,
                   w_exp: float = DEFAULT_W_EXP, correction: np.ndarray | None = None,
                   w_corr: float = DEFAULT_W_CORR) -> "LandmarkModel":
        """Rows of ``model`` (a :class:`FaceModel`) at ``vertices``. ``n_id``/``n_exp`` keep the first
        components (all by default); ``correction`` (3K, N, 3), the E_c of
        ``harmonics.correction_basis(model, K)``, adds the corrective shapes."""
        idx = np.asarray(vertices, dtype=np.int64)
        id_basis = np.asarray(model.id_basis)
        exp_basis = np.asarray(model.exp_basis)
        k = id_basis.shape[0] if n_id is None else min(n_id, id_basis.shape[0])
        e = exp_basis.shape[0] if n_exp is None else min(n_exp, exp_basis.shape[0])
        blocks = [id_basis[:k, idx].astype(np.float64), exp_basis[:e, idx].astype(np.float64)]
        weights = [np.full(k, w_id), np.full(e, w_exp)]
        n_corr = 0
        if correction is not None:
            corr = np.asarray(correction, dtype=np.float64)[:, idx]
            blocks.append(corr)
            weights.append(np.full(len(corr), w_corr))
            n_corr = len(corr)
        return cls(mean=np.asarray(model.mean, dtype=np.float64)[idx],
                   basis=np.concatenate(blocks, axis=0), weights=np.concatenate(weights),
                   n_id=k, n_exp=e, n_corr=n_corr)

    @property
    def num_points(self) -> int:
        return self.mean.shape[0]

    def shape(self, coeffs: np.ndarray) -> np.ndarray:
        """Landmark positions (B, L, 3) for coefficients (B, M)."""
        return self.mean + np.tensordot(coeffs, self.basis, axes=(1, 0))

    def subset(self, keep: np.ndarray) -> "LandmarkModel":
        """The same model on a subset of its landmark rows (boolean or index array)."""
        return LandmarkModel(self.mean[keep], self.basis[:, keep], self.weights, self.n_id,
                             self.n_exp, self.n_corr)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------

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
        with _quiet_nan():
            return np.nanmean(self.point_error, axis=1)

    @property
    def yaw(self) -> np.ndarray:
        """Degrees, positive = face turned towards image-left: the yaw of the ``Pose_Para``
        convention (:func:`landmark_fusion.geometry.rotation_to_euler`), as the RawFace labels."""
        return np.rad2deg(rotation_to_euler(self.rotation_matrix)[1])


# --------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------

@dataclass
class _State:
    s: np.ndarray
    R: np.ndarray
    t: np.ndarray
    c: np.ndarray


def _data_terms(x: np.ndarray, st: _State, y: np.ndarray, m: np.ndarray, d: np.ndarray,
                n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted residuals (B, L, 2) and data cost (B,) of shape ``x`` under pose ``st``."""
    q = project(x, st.s, st.R, st.t, depth=False)
    w = (m / (d[:, None] * np.sqrt(n)[:, None]))[..., None]
    r = (q - y) * w
    return r, (r * r).sum(axis=(1, 2))


def _pose_step(x: np.ndarray, st: _State, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               n: np.ndarray, iterations: int) -> _State:
    """Levenberg-Marquardt on (log s, δω, t) with the shape ``x`` (B, L, 3) held fixed; the
    Jacobian is that of :func:`landmark_fusion.geometry.project` under ``R ← exp([δω]×)·R``."""
    mu = np.full(len(st.s), 1e-3)
    r, cost = _data_terms(x, st, y, m, d, n)
    w = (m / (d[:, None] * np.sqrt(n)[:, None]))[..., None, None]  # (B, L, 1, 1)
    for _ in range(iterations):
        p = x @ np.swapaxes(st.R, 1, 2)
        s = st.s[:, None]
        jac = np.zeros(p.shape[:2] + (2, 6))
        jac[..., 0, 0] = s * p[..., 0]
        jac[..., 1, 0] = -s * p[..., 1]
        jac[..., 0, 2], jac[..., 0, 3] = s * p[..., 2], -s * p[..., 1]
        jac[..., 1, 1], jac[..., 1, 3] = s * p[..., 2], -s * p[..., 0]
        jac[..., 0, 4] = 1.0
        jac[..., 1, 5] = 1.0
        jac = (jac * w).reshape(len(st.s), -1, 6)
        h = np.swapaxes(jac, 1, 2) @ jac
        g = (np.swapaxes(jac, 1, 2) @ r.reshape(len(st.s), -1, 1))[..., 0]
        damp = mu[:, None] * (np.diagonal(h, axis1=1, axis2=2) + 1e-9)
        delta = -np.linalg.solve(h + damp[:, :, None] * np.eye(6), g[..., None])[..., 0]
        trial = _State(st.s * np.exp(delta[:, 0]), rodrigues(delta[:, 1:4]) @ st.R,
                       st.t + delta[:, 4:6], st.c)
        r_new, cost_new = _data_terms(x, trial, y, m, d, n)
        ok = cost_new < cost
        st = _State(np.where(ok, trial.s, st.s), np.where(ok[:, None, None], trial.R, st.R),
                    np.where(ok[:, None], trial.t, st.t), st.c)
        r = np.where(ok[:, None, None], r_new, r)
        cost = np.where(ok, cost_new, cost)
        mu = np.where(ok, mu / 3.0, mu * 5.0)
    return st


def _shape_step(lm: LandmarkModel, st: _State, y: np.ndarray, m: np.ndarray, d: np.ndarray,
                n: np.ndarray) -> _State:
    """Closed-form Tikhonov least squares for the shape coefficients, pose held fixed."""
    if lm.basis.shape[0] == 0:
        return st
    rs = image_jacobian(st.s, st.R)                                          # (B, 2, 3)
    design = np.tensordot(rs, lm.basis, axes=([2], [2])).transpose(0, 3, 1, 2)  # (B, L, 2, M)
    target = y - st.t[:, None, :] - lm.mean @ np.swapaxes(rs, 1, 2)             # (B, L, 2)
    w = (m / (d[:, None] * np.sqrt(n)[:, None]))[..., None]
    a = (design * w[..., None]).reshape(len(st.s), -1, lm.basis.shape[0])
    b = (target * w).reshape(len(st.s), -1)
    lhs = np.swapaxes(a, 1, 2) @ a + np.diag(lm.weights)
    rhs = (np.swapaxes(a, 1, 2) @ b[..., None])[..., 0]
    c = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    return _State(st.s, st.R, st.t, c)


def _similarity_start(lm: LandmarkModel, y: np.ndarray, m: np.ndarray, yaw: float) -> _State:
    """Scale, in-plane rotation and shift that best map the mean shape turned by ``yaw`` onto the
    annotated points (2-D Procrustes, via complex numbers)."""
    r0 = yaw_start(yaw)
    u = project(lm.mean, 1.0, r0, np.zeros(2))[:, :2]                        # (L, 2) image-axes
    uc = u[:, 0] + 1j * u[:, 1]
    yc = y[..., 0] + 1j * y[..., 1]
    mf = m.astype(np.float64)
    cnt = np.maximum(mf.sum(1), 1.0)
    ubar = (mf * uc).sum(1) / cnt
    ybar = (mf * np.where(m, yc, 0)).sum(1) / cnt
    du = (uc[None, :] - ubar[:, None]) * mf
    dy = (np.where(m, yc, 0) - ybar[:, None]) * mf
    a = (np.conj(du) * dy).sum(1) / np.maximum((np.abs(du) ** 2).sum(1), 1e-12)
    s = np.maximum(np.abs(a), 1e-12)
    theta = np.angle(a)
    # A rotation by θ in image axes (y down) is a rotation by -θ about the model's z axis.
    rz = axis_rotation(2, -theta)
    t = ybar - a * ubar
    return _State(s, rz @ r0, np.stack([t.real, t.imag], axis=1),
                  np.zeros((len(s), lm.basis.shape[0])))


def _total_cost(lm: LandmarkModel, st: _State, y: np.ndarray, m: np.ndarray, d: np.ndarray,
                n: np.ndarray) -> np.ndarray:
    _, data = _data_terms(lm.shape(st.c), st, y, m, d, n)
    return data + (st.c ** 2 * lm.weights).sum(1)


def _fit_chunk(lm: LandmarkModel, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               yaw_inits: Sequence[float], alternations: int, pose_iterations: int,
               fit_shape: bool) -> tuple[_State, np.ndarray]:
    n = np.maximum(m.sum(1), 1).astype(np.float64)
    best: _State | None = None
    best_cost = None
    for yaw in yaw_inits:
        st = _similarity_start(lm, y, m, yaw)
        st = _pose_step(lm.shape(st.c), st, y, m, d, n, pose_iterations)
        if fit_shape:
            st = _shape_step(lm, st, y, m, d, n)
            st = _pose_step(lm.shape(st.c), st, y, m, d, n, pose_iterations // 2 + 1)
        cost = _total_cost(lm, st, y, m, d, n)
        if best is None:
            best, best_cost = st, cost
            continue
        ok = cost < best_cost
        best = _State(np.where(ok, st.s, best.s), np.where(ok[:, None, None], st.R, best.R),
                      np.where(ok[:, None], st.t, best.t), np.where(ok[:, None], st.c, best.c))
        best_cost = np.where(ok, cost, best_cost)
    assert best is not None
    if fit_shape:
        for _ in range(max(alternations - 1, 0)):
            best = _shape_step(lm, best, y, m, d, n)
            best = _pose_step(lm.shape(best.c), best, y, m, d, n, pose_iterations // 2 + 1)
    return best, _total_cost(lm, best, y, m, d, n)


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
    m = np.isfinite(y).all(-1) if mask is None else (np.asarray(mask, bool) & np.isfinite(y).all(-1))
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


def fitted_vertices(model: Any, result: FitResult, vertices: np.ndarray | None = None,
                    correction: np.ndarray | None = None) -> np.ndarray:
    """Model-frame positions (B, V, 3) of ``vertices`` (all by default) for the fitted shapes."""
    idx = np.arange(np.asarray(model.mean).shape[0]) if vertices is None else np.asarray(vertices)
    x = np.asarray(model.mean, dtype=np.float64)[idx][None].repeat(len(result.scale), 0)
    x = x + np.tensordot(result.x_id, np.asarray(model.id_basis[:result.n_id], np.float64)[:, idx], 1)
    x = x + np.tensordot(result.x_exp, np.asarray(model.exp_basis[:result.n_exp], np.float64)[:, idx], 1)
    if correction is not None and result.x_corr.shape[1]:
        x = x + np.tensordot(result.x_corr, np.asarray(correction, np.float64)[:, idx], 1)
    return x


# --------------------------------------------------------------------------------------------
# Annotated faces by canonical name, and the table diagnostics built on the fit
# --------------------------------------------------------------------------------------------

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


def landmark_residuals(model: Any, vertices: np.ndarray, faces: AnnotatedFaces,
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
    with _quiet_nan():
        mean[cols] = np.nanmean(err, axis=0)
        median[cols] = np.nanmedian(err, axis=0)
    count[cols] = np.isfinite(err).sum(0)
    mean[count == 0] = np.nan
    median[count == 0] = np.nan
    flagged = [faces.names[i] for i in np.flatnonzero(flag_outliers(mean))]
    with _quiet_nan():
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


def suggest_vertices(model: Any, vertices: np.ndarray, faces: AnnotatedFaces, names: Sequence[str],
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
    for n, j in zip(names, cols):
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
        part = _subset_result(result, sl)
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
    for k, (n, j) in enumerate(zip(names, cols)):
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


def _subset_result(r: FitResult, sl: slice) -> FitResult:
    return FitResult(r.scale[sl], r.rotation[sl], r.translation[sl], r.coeffs[sl], r.n_id, r.n_exp,
                     r.projected[sl], r.point_error[sl], r.normaliser[sl], r.cost[sl])
