"""The pose step of the landmark fit: weak-perspective scale, rotation and shift of each face with its
shape held fixed. A 2-D similarity start from the mean shape turned by a yaw angle, then
Levenberg-Marquardt on (log s, δω, t)."""
from __future__ import annotations

import numpy as np

from ..geometry import axis_rotation, euler_to_rotation, project, rodrigues
from .fit_model import LandmarkModel
from .fit_objective import FitState, data_terms, point_weights


def yaw_start(degrees: float) -> np.ndarray:
    """The head rotation of a starting pose turned by ``degrees`` of yaw (positive = towards
    image-left, the label convention of :mod:`landmark_fusion.geometry`)."""
    return euler_to_rotation(0.0, np.deg2rad(degrees), 0.0)


def similarity_start(lm: LandmarkModel, y: np.ndarray, m: np.ndarray, yaw: float) -> FitState:
    """Scale, in-plane rotation and shift that best map the mean shape turned by ``yaw`` onto the
    annotated points (2-D Procrustes, via complex numbers); the coefficients start at zero."""
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
    return FitState(s, rz @ r0, np.stack([t.real, t.imag], axis=1),
                    np.zeros((len(s), lm.basis.shape[0])))


def pose_step(x: np.ndarray, st: FitState, y: np.ndarray, m: np.ndarray, d: np.ndarray,
              n: np.ndarray, iterations: int) -> FitState:
    """Levenberg-Marquardt on (log s, δω, t) with the shape ``x`` (B, L, 3) held fixed; the
    Jacobian is that of :func:`landmark_fusion.geometry.project` under ``R ← exp([δω]×)·R``."""
    mu = np.full(len(st.s), 1e-3)
    r, cost = data_terms(x, st, y, m, d, n)
    w = point_weights(m, d, n)[..., None, None]  # (B, L, 1, 1)
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
        trial = FitState(st.s * np.exp(delta[:, 0]), rodrigues(delta[:, 1:4]) @ st.R,
                         st.t + delta[:, 4:6], st.c)
        r_new, cost_new = data_terms(x, trial, y, m, d, n)
        ok = cost_new < cost
        st = FitState(np.where(ok, trial.s, st.s), np.where(ok[:, None, None], trial.R, st.R),
                      np.where(ok[:, None], trial.t, st.t), st.c)
        r = np.where(ok[:, None, None], r_new, r)
        cost = np.where(ok, cost_new, cost)
        mu = np.where(ok, mu / 3.0, mu * 5.0)
    return st
