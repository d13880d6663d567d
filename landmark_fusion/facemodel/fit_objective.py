"""The objective of the landmark fit, shared by its steps: the state of a batch of faces (pose and
coefficients), the weighted residuals of Eq. 1's data term, the total cost, and the face size ``d``
that makes the data term unit-free (see :mod:`.fit`)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geometry import project
from .fit_model import LandmarkModel


@dataclass
class FitState:
    """Pose and coefficients of a batch of B faces: scale ``s`` (B,), rotation ``R`` (B, 3, 3),
    image shift ``t`` (B, 2) and the coefficients ``c`` (B, M) of a :class:`LandmarkModel`."""

    s: np.ndarray
    R: np.ndarray
    t: np.ndarray
    c: np.ndarray


class quiet_nan:
    """Silences numpy's all-NaN slice warnings for faces without points."""

    def __enter__(self) -> None:
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


def nme_normaliser(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """√(w·h) of the box around each face's annotated points (B,); the paper's face size."""
    big = np.where(mask[..., None], points, np.nan)
    with np.errstate(invalid="ignore"), quiet_nan():
        lo = np.nanmin(big, axis=1)
        hi = np.nanmax(big, axis=1)
    size = hi - lo
    d = np.sqrt(np.clip(size[:, 0] * size[:, 1], 0.0, None))
    return np.where(np.isfinite(d) & (d > 0), d, np.nan)


def point_weights(m: np.ndarray, d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Weight (B, L) of each point's residual: annotated (``m``), divided by the face size ``d`` and
    by √``n`` (``n`` annotated points), so the squared residuals sum to the mean of Eq. 1."""
    return m / (d[:, None] * np.sqrt(n)[:, None])


def data_terms(x: np.ndarray, st: FitState, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted residuals (B, L, 2) and data cost (B,) of shape ``x`` under pose ``st``."""
    q = project(x, st.s, st.R, st.t, depth=False)
    r = (q - y) * point_weights(m, d, n)[..., None]
    return r, (r * r).sum(axis=(1, 2))


def total_cost(lm: LandmarkModel, st: FitState, y: np.ndarray, m: np.ndarray, d: np.ndarray,
               n: np.ndarray) -> np.ndarray:
    """Data cost plus the Tikhonov prior of the coefficients (B,)."""
    _, data = data_terms(lm.shape(st.c), st, y, m, d, n)
    return data + (st.c ** 2 * lm.weights).sum(1)
