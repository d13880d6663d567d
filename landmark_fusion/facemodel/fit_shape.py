"""The shape step of the landmark fit: identity, expression and correction coefficients of each face in
closed form (linear least squares with the Tikhonov prior), its pose held fixed."""
from __future__ import annotations

import numpy as np

from ..geometry import image_jacobian
from .fit_model import LandmarkModel
from .fit_objective import FitState, point_weights


def shape_step(lm: LandmarkModel, st: FitState, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               n: np.ndarray) -> FitState:
    """Closed-form Tikhonov least squares for the shape coefficients, pose held fixed."""
    if lm.basis.shape[0] == 0:
        return st
    rs = image_jacobian(st.s, st.R)                                          # (B, 2, 3)
    design = np.tensordot(rs, lm.basis, axes=([2], [2])).transpose(0, 3, 1, 2)  # (B, L, 2, M)
    target = y - st.t[:, None, :] - lm.mean @ np.swapaxes(rs, 1, 2)             # (B, L, 2)
    w = point_weights(m, d, n)[..., None]
    a = (design * w[..., None]).reshape(len(st.s), -1, lm.basis.shape[0])
    b = (target * w).reshape(len(st.s), -1)
    lhs = np.swapaxes(a, 1, 2) @ a + np.diag(lm.weights)
    rhs = (np.swapaxes(a, 1, 2) @ b[..., None])[..., 0]
    c = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    return FitState(st.s, st.R, st.t, c)
