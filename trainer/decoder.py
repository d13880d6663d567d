"""Model-based decoder of §3.1–3.2: S = S0 + A_id·x_id + A_exp·x_exp + E_c·x_c, then the weak-perspective
pose S_T = s·S·Rᵀ + [t2d, 0], projected to the pixels of the network's 128×128 input.

Coordinate normalisation (keeps every network output O(1)):
- the model is centred on the centre of its mean shape's bounding box and divided by the mean shape's
  width (x extent), so the normalised mean face is one unit wide whatever the model's units (cm, mm);
- the scale is ``s = s_ref · exp(pose[0])`` with ``s_ref = 128`` px: at ``pose[0] = 0`` the mean face's
  width spans the 128 px frame;
- the translation is ``t = 63.5 + 64 · pose[4:6]`` px: 0 puts the face centre in the frame centre
  (pixel centres are integers, the frame spans −0.5…127.5);
- axes and projection are those of ``landmark_fusion.geometry`` (model +x subject's left, +y up, +z
  towards the viewer): image x = s·(R·X)_x + t_x, image y = −s·(R·X)_y + t_y, depth = s·(R·X)_z, larger =
  closer to the viewer (the z of AFLW2000-3D's ``pt3d_68``). ``R = exp([pose[1:4]]×)`` is the head
  rotation in the model frame, so zero parameters give the mean face frontal, centred, at the reference
  scale; ``tests/trainer/test_decoder.py`` checks the decoder against the numpy implementation;
- the correction field E_c uses manifold harmonics H (N,K_c) rescaled to unit RMS per vertex, times
  ``correction_unit`` (default 0.01 of the face width): one unit of x_c moves vertices by about 1 % of
  the face width (a unit of its own, not the 1 mm of ``harmonics.correction_basis``: docs/models.md).
Training decodes only the landmark vertices (gathered rows of the bases); inference can decode the full mesh.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from landmark_fusion.geometry import IMAGE_AXES, SMALL_ANGLE
from landmark_fusion.geometry import rotation_to_euler as _pose_para_angles

from .network import EncoderOutput

REFERENCE_SCALE_PX = 128.0
FRAME_CENTRE_PX = 63.5
HALF_FRAME_PX = 64.0


def skew(v: torch.Tensor) -> torch.Tensor:
    """(…,3) → (…,3,3) cross-product matrices."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([torch.stack([o, -z, y], -1), torch.stack([z, o, -x], -1),
                        torch.stack([-y, x, o], -1)], -2)


def rodrigues(rotvec: torch.Tensor) -> torch.Tensor:
    """Exponential map so(3) → SO(3): R = I + a·K + b·K², a = sin θ/θ, b = (1 − cos θ)/θ²; below
    θ = 1e-4 the Taylor series a ≈ 1 − θ²/6, b ≈ 1/2 − θ²/24 is used so values and gradients stay finite.
    The torch twin of ``landmark_fusion.geometry.rodrigues`` (same formula, differentiable)."""
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)
    small = theta2 < SMALL_ANGLE ** 2
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = theta2_safe.sqrt()
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2_safe)
    k = skew(rotvec)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(k)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def rotation_to_euler(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a model-frame head rotation, in the ``Pose_Para`` convention of
    the 300W-LP / AFLW2000-3D labels (``landmark_fusion.geometry.rotation_to_euler``):
    R = Rx(−pitch)·Ry(−yaw)·Rz(−roll).

    Signs: positive yaw turns the face towards the image left (the subject's right), the sign of the
    AFLW / 3DDFA yaw labels (docs/formats.md §1.2); positive pitch raises the nose, positive roll turns
    the face clockwise in the image.
    """
    pitch, yaw, roll = (float(np.degrees(a)) for a in _pose_para_angles(np.asarray(r, dtype=np.float64)))
    return yaw, pitch, roll


def _as_f32(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


class FaceDecoder(nn.Module):
    """Turns :class:`EncoderOutput` into 2-D points in the 128×128 input frame (pixels).

    Built from a FaceModel-like object (``mean`` (N,3), ``id_basis`` (K,N,3), ``exp_basis`` (E,N,3) in
    standard-deviation units) and optional manifold harmonics ``harmonics`` (N,K_c). ``landmark_vertices``
    (L,) are the vertices decoded by :meth:`landmarks`; all buffers are float32 and move with ``.to()``.
    """

    # buffers, registered in __init__ (the full-mesh ones only with ``full_mesh``)
    landmark_vertices: torch.Tensor
    lm_mean: torch.Tensor
    lm_id: torch.Tensor
    lm_exp: torch.Tensor
    lm_corr: torch.Tensor
    mean: torch.Tensor
    id_basis: torch.Tensor
    exp_basis: torch.Tensor
    corr_basis: torch.Tensor

    def __init__(self, model: Any, landmark_vertices: Sequence[int] | np.ndarray,
                 harmonics: np.ndarray | None = None, n_corr: int = 20,
                 correction_unit: float = 0.01, full_mesh: bool = True) -> None:
        super().__init__()
        mean = np.asarray(model.mean, dtype=np.float64)
        lo, hi = mean.min(0), mean.max(0)
        centre = (lo + hi) / 2
        width = float(hi[0] - lo[0])
        if width <= 0:
            raise ValueError("the model's mean shape has zero width")
        self.n_id = int(np.asarray(model.id_basis).shape[0])
        self.n_exp = int(np.asarray(model.exp_basis).shape[0])
        self.n_corr = int(n_corr)
        self.model_centre = centre
        self.model_width = width
        n = mean.shape[0]
        if harmonics is None:
            corr: np.ndarray = np.zeros((n, self.n_corr), np.float32)
        else:
            h = np.asarray(harmonics, np.float64)[:, : self.n_corr]
            if h.shape != (n, self.n_corr):
                raise ValueError(f"harmonics must be ({n}, {self.n_corr}), got {h.shape}")
            rms = np.sqrt((h ** 2).mean(0, keepdims=True))
            corr = h / np.where(rms > 0, rms, 1.0) * correction_unit
        lm = np.asarray(landmark_vertices, dtype=np.int64)
        if lm.ndim != 1 or (lm.size and (lm.min() < 0 or lm.max() >= n)):
            raise ValueError(f"landmark vertices must be indices in [0, {n})")
        self.register_buffer("landmark_vertices", torch.as_tensor(lm), persistent=False)
        norm_mean = (mean - centre) / width
        id_b = np.asarray(model.id_basis, np.float32) / width
        exp_b = np.asarray(model.exp_basis, np.float32) / width
        self.register_buffer("lm_mean", _as_f32(norm_mean[lm]), persistent=False)
        self.register_buffer("lm_id", _as_f32(id_b[:, lm]), persistent=False)
        self.register_buffer("lm_exp", _as_f32(exp_b[:, lm]), persistent=False)
        self.register_buffer("lm_corr", _as_f32(corr[lm]), persistent=False)
        self.full_mesh = full_mesh
        if full_mesh:
            self.register_buffer("mean", _as_f32(norm_mean), persistent=False)
            self.register_buffer("id_basis", _as_f32(id_b), persistent=False)
            self.register_buffer("exp_basis", _as_f32(exp_b), persistent=False)
            self.register_buffer("corr_basis", _as_f32(corr), persistent=False)

    @staticmethod
    def _shape(mean: torch.Tensor, id_b: torch.Tensor, exp_b: torch.Tensor, corr: torch.Tensor,
               p: EncoderOutput) -> torch.Tensor:
        """(B,V,3) normalised shape S + S_c."""
        s = mean + torch.einsum("bk,kvc->bvc", p.x_id, id_b) + torch.einsum("be,evc->bvc", p.x_exp, exp_b)
        if corr.shape[1] == 0:  # K_c = 0: no term (the ONNX exporter crashes on the empty einsum/reshape)
            return s
        return s + torch.einsum("vk,bkc->bvc", corr, p.x_c)

    @staticmethod
    def rotation(p: EncoderOutput) -> torch.Tensor:
        return rodrigues(p.pose[:, 1:4])

    @staticmethod
    def project(shape: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """(B,V,3) normalised shape → (B,V,3) posed points: x, y in 128-frame pixels, depth in the same
        scale, larger = closer to the viewer (``landmark_fusion.geometry.project``)."""
        scale = REFERENCE_SCALE_PX * torch.exp(pose[:, :1])[:, :, None]
        rotated = shape @ rodrigues(pose[:, 1:4]).transpose(1, 2)
        flip = torch.as_tensor(IMAGE_AXES, dtype=shape.dtype, device=shape.device)
        t = FRAME_CENTRE_PX + HALF_FRAME_PX * pose[:, 4:6]
        t3 = torch.cat([t, torch.zeros_like(t[:, :1])], 1)[:, None, :]
        return scale * rotated * flip + t3

    def landmarks(self, p: EncoderOutput) -> torch.Tensor:
        """(B,L,2) landmark points in 128-frame pixels (only the landmark rows are decoded)."""
        shape = self._shape(self.lm_mean, self.lm_id, self.lm_exp, self.lm_corr, p)
        return self.project(shape, p.pose)[..., :2]

    def mesh(self, p: EncoderOutput, posed: bool = True) -> torch.Tensor:
        """(B,N,3) full mesh: posed in 128-frame pixels with depth towards the viewer (``posed``), or in
        the model's own units and axes."""
        if not self.full_mesh:
            raise RuntimeError("decoder was built without the full mesh (full_mesh=False)")
        shape = self._shape(self.mean, self.id_basis, self.exp_basis, self.corr_basis, p)
        if posed:
            return self.project(shape, p.pose)
        centre = torch.as_tensor(self.model_centre, dtype=shape.dtype, device=shape.device)
        return shape * self.model_width + centre

    def forward(self, p: EncoderOutput) -> torch.Tensor:
        return self.landmarks(p)

    def framing_pose(self, margin: float) -> np.ndarray:
        """(6,) pose that shows the mean face, frontal, framed as the fusion stage crops a face: the box
        of its landmark vertices centred in the frame, its longer side 128 / (1 + 2·margin) px (the crop
        is the landmark box widened by ``margin`` of its longer side on each side)."""
        pts = self.lm_mean.detach().cpu().numpy().astype(np.float64)[:, :2]
        lo, hi = pts.min(0), pts.max(0)
        extent = float((hi - lo).max())
        if extent <= 0:
            return np.zeros(6)
        s = 1.0 / ((1.0 + 2.0 * margin) * extent)           # exp(log-scale): frame widths per model width
        centre = (lo + hi) / 2
        t = np.array([-centre[0], centre[1]]) * s * REFERENCE_SCALE_PX / HALF_FRAME_PX
        return np.array([np.log(s), 0.0, 0.0, 0.0, t[0], t[1]])
