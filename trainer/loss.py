"""Eq. 1 of the paper: masked squared landmark error over the number of unmasked landmarks, plus
w_id‖x_id‖²_W + w_exp‖x_exp‖²_W + w_c‖x_c‖²_W.

Coordinate normalisation: points are in pixels of the 128×128 network input (``landmark_unit = 1``);
``landmark_unit = 128`` gives the "frame = 1" units instead. The paper's weights (0.1, 1, 10) are
meaningful only together with the unit: with the frame = 1 the data term shrinks 128² ≈ 16,000 times
and the priors pin every coefficient to zero, so pixels are the default. Coefficients are in standard
deviation units (FaceModel contract), hence W = identity for x_id and x_exp; W_c (one weight per
harmonic, shared by x, y, z) defaults to identity and can come from
``landmark_fusion.facemodel.harmonics.correction_weights``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .network import EncoderOutput


@dataclass(frozen=True)
class LossWeights:
    """Weights of Eq. 1 (defaults: the paper, §4.1)."""

    w_id: float = 0.1
    w_exp: float = 1.0
    w_c: float = 10.0
    landmark_unit: float = 1.0  # pixels of the 128 frame per loss unit
    landmark_loss: str = "squared"  # squared: Eq. 1; distance: mean point distance (NME's numerator)

    def to_dict(self) -> dict:
        return asdict(self)


#: A small length (in loss units) under the square root of the ``distance`` loss, so that its
#: gradient stays finite where a point is exactly on its target.
DISTANCE_EPS = 1e-3


def landmark_term(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  unit: float = 1.0, kind: str = "squared") -> torch.Tensor:
    """(B,) per-sample landmark error over Σ mask; a sample without any landmark contributes 0.

    ``squared``: ‖(y − t)∘mask‖², Eq. 1. ``distance``: the sum of the point distances ‖y_i − t_i‖,
    the numerator of the NME the benchmarks report; it weighs every point's error linearly
    instead of quadratically, so a few large errors (hidden jaw points of profile faces) no longer
    dominate the gradient.
    """
    m = mask.to(pred.dtype)
    sq = (((pred - target) / unit) ** 2).sum(-1)
    if kind == "distance":
        per_point = torch.sqrt(sq + DISTANCE_EPS ** 2) - DISTANCE_EPS
    elif kind == "squared":
        per_point = sq
    else:
        raise ValueError(f"unknown landmark loss {kind!r} (squared | distance)")
    return (per_point * m).sum(-1) / m.sum(-1).clamp(min=1.0)


def eq1_loss(params: EncoderOutput, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
             weights: LossWeights = LossWeights(),
             corr_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Batch-mean terms of Eq. 1 and their weighted ``total``. ``corr_weights`` (K_c,) is W_c's diagonal."""
    lm = landmark_term(pred.float(), target.float(), mask, weights.landmark_unit,
                       weights.landmark_loss).mean()
    reg_id = (params.x_id.float() ** 2).sum(-1).mean()
    reg_exp = (params.x_exp.float() ** 2).sum(-1).mean()
    xc2 = params.x_c.float() ** 2  # (B,K_c,3)
    if corr_weights is not None:
        xc2 = xc2 * corr_weights.to(xc2)[None, :, None]
    reg_c = xc2.sum((-1, -2)).mean()
    total = lm + weights.w_id * reg_id + weights.w_exp * reg_exp + weights.w_c * reg_c
    return {"total": total, "landmarks": lm, "reg_id": reg_id, "reg_exp": reg_exp, "reg_c": reg_c}
