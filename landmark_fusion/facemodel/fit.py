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

One module per part, this one gathers their public names:

- :mod:`.fit_model`: the model at the landmark vertices with its prior weights (``LandmarkModel``);
- :mod:`.fit_objective`: the batch's state, the weighted residuals and cost, the face size ``d``;
- :mod:`.fit_pose`: the pose step (yaw starts, similarity start, Levenberg-Marquardt);
- :mod:`.fit_shape`: the shape step (closed-form Tikhonov least squares);
- :mod:`.fit_loop`: the alternation over chunks of faces (``fit_landmarks``, ``FitResult``);
- :mod:`.fit_diagnostics`: the correspondence diagnostics built on the fit (residual reports,
  vertex suggestions).
"""
from __future__ import annotations

from .fit_diagnostics import (
                              AnnotatedFaces,
                              ResidualReport,
                              VertexSuggestion,
                              flag_outliers,
                              landmark_residuals,
                              suggest_vertices,
)
from .fit_loop import DEFAULT_YAW_INITS, FitResult, fit_landmarks, fitted_vertices
from .fit_model import DEFAULT_W_CORR, DEFAULT_W_EXP, DEFAULT_W_ID, LandmarkModel
from .fit_objective import nme_normaliser
from .fit_pose import yaw_start

__all__ = ["DEFAULT_W_CORR", "DEFAULT_W_EXP", "DEFAULT_W_ID", "DEFAULT_YAW_INITS", "AnnotatedFaces",
           "FitResult", "LandmarkModel", "ResidualReport", "VertexSuggestion", "fit_landmarks",
           "fitted_vertices", "flag_outliers", "landmark_residuals", "nme_normaliser",
           "suggest_vertices", "yaw_start"]
