"""The network's linear tail folded into one fully connected layer for export (docs/trainer.md "Export
and use").

From the pooled trunk features to the unposed shape everything is affine: the encoder's two fully
connected layers (``fc``, then ``fc_pose`` on its first 64 outputs) and the decoder's
``S = S0 + A_id·x_id + A_exp·x_exp + E_c·x_c``. Folded, one layer maps the features straight to the
pose and to the landmark vertices' coordinates (6 + 3·L outputs instead of 6 + 64 + n_id + n_exp +
3·K_c, and no decoder operators); only the pose, which is not linear, is applied after it, by the
decoder's own :meth:`~trainer.decoder.FaceDecoder.project`. The full mesh keeps its coefficients (6 +
n_id + n_exp + 3·K_c outputs, then one product with the stacked bases): folded all the way it would
need a (3·N, 1024) layer, five times the bases.

The maps are not copied from the code's formulas: each is measured in float64 by running the
encoder's :meth:`~trainer.network.MobileNetV1Encoder.head` and the decoder's shape code on zero and on
every unit vector, and checked to be affine on random inputs, so the fold follows whatever the
network and the decoder compute.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .decoder import FaceDecoder
from .network import EncoderOutput

AFFINE_TOLERANCE = 1e-9  # relative, in float64


class NotAffine(RuntimeError):
    """A part of the tail that the fold assumes affine is not."""


def affine_map(fn: Callable[[torch.Tensor], torch.Tensor], n_in: int, what: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(W (n_out, n_in), b (n_out,)) with ``fn(x) = x·Wᵀ + b``, measured in float64 on zero and the unit
    vectors; :class:`NotAffine` when ``fn`` is not affine on random inputs."""
    basis = torch.cat([torch.zeros(1, n_in, dtype=torch.float64), torch.eye(n_in, dtype=torch.float64)])
    with torch.no_grad():
        out = fn(basis)
        bias = out[0]
        weight = (out[1:] - bias).T.contiguous()
        probe = torch.randn(4, n_in, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        want = fn(probe)
        got = probe @ weight.T + bias
    scale = float(want.abs().max()) or 1.0
    if float((got - want).abs().max()) > AFFINE_TOLERANCE * scale:
        raise NotAffine(f"{what} is not affine: it cannot be folded")
    return weight, bias


def coefficients(p: EncoderOutput) -> torch.Tensor:
    """(B, n_id + n_exp + 3·K_c): the shape coefficients of ``p`` side by side."""
    return torch.cat([p.x_id, p.x_exp, p.x_c.flatten(1)], 1)


def _with_coefficients(pose: torch.Tensor, coefs: torch.Tensor, n_id: int, n_exp: int) -> EncoderOutput:
    """The inverse of :func:`coefficients`."""
    n_c = coefs.shape[1] - n_id - n_exp
    x_id, x_exp, x_c = coefs.split([n_id, n_exp, n_c], 1)
    return EncoderOutput(pose, x_id, x_exp, x_c.reshape(coefs.shape[0], n_c // 3, 3))  # K_c = 0: (B, 0, 3)


def head_map(encoder: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The encoder's head (pooled features → [pose, coefficients]) as (W, b) and the pose size."""
    head = copy.deepcopy(encoder).double().eval()
    n_feat = int(head.fc.in_features)
    with torch.no_grad():
        n_pose = int(head.head(torch.zeros(1, n_feat, dtype=torch.float64)).pose.shape[1])

    def fn(feat: torch.Tensor) -> torch.Tensor:
        p = head.head(feat)
        return torch.cat([p.pose, coefficients(p)], 1)

    weight, bias = affine_map(fn, n_feat, "the encoder's head")
    return weight, bias, n_pose


def shape_map(decoder: Any, mesh: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's unposed normalised shape of the landmark vertices (or of the whole mesh) as a map
    coefficients → (3·V,) flattened (V,3): (W (3·V, C), b (3·V,)), from its own buffers and shape code."""
    if mesh and not decoder.full_mesh:
        raise ValueError("the decoder was built without the full mesh (full_mesh=False)")
    names = ("mean", "id_basis", "exp_basis", "corr_basis") if mesh else ("lm_mean", "lm_id", "lm_exp", "lm_corr")
    buffers = [getattr(decoder, n).detach().to("cpu", torch.float64) for n in names]
    n_id, n_exp = int(decoder.n_id), int(decoder.n_exp)
    n_coef = n_id + n_exp + 3 * int(decoder.n_corr)

    def fn(coefs: torch.Tensor) -> torch.Tensor:
        pose = torch.zeros(coefs.shape[0], 6, dtype=coefs.dtype)  # the unposed shape ignores it
        return decoder._shape(*buffers, _with_coefficients(pose, coefs, n_id, n_exp)).flatten(1)

    return affine_map(fn, n_coef, "the decoder's shape")


class FoldedFaceNet(nn.Module):
    """Image → (points, pose) as :class:`trainer.export.FaceNet` computes them, with the tail folded:
    trunk features → one linear layer → (pose, landmark vertex coordinates) → the decoder's projection
    (``output="landmarks"``, x and y), or → (pose, coefficients) → stacked bases → projection
    (``output="mesh"``, x, y and z)."""

    _decoder: FaceDecoder  # set past nn.Module's registry: its buffers are not this network's

    def __init__(self, encoder: Any, decoder: FaceDecoder, output: str = "landmarks") -> None:
        super().__init__()
        if output not in ("landmarks", "mesh"):
            raise ValueError(f"unknown output {output!r}")
        self.encoder, self.output = encoder, output
        object.__setattr__(self, "_decoder", decoder)  # only its projection code runs: its bases are folded
        w_head, b_head, n_pose = head_map(encoder)
        w_shape, b_shape = shape_map(decoder, mesh=output == "mesh")
        self.n_pose = n_pose
        if output == "landmarks":
            w_coef, b_coef = w_head[n_pose:], b_head[n_pose:]
            weight = torch.cat([w_head[:n_pose], w_shape @ w_coef])
            bias = torch.cat([b_head[:n_pose], w_shape @ b_coef + b_shape])
        else:
            weight, bias = w_head, b_head
            self.register_buffer("basis", w_shape.T.float().contiguous())  # (C, 3·N)
            self.register_buffer("offset", b_shape.float().contiguous())   # (3·N,)
        self.fc = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(weight.float())
            self.fc.bias.copy_(bias.float())
        self.eval()

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.fc(self.encoder.features(image))
        pose, rest = out[:, : self.n_pose], out[:, self.n_pose:]
        if self.output == "mesh":
            rest = rest @ self.basis + self.offset
        shape = rest.reshape(rest.shape[0], -1, 3)
        points = self._decoder.project(shape, pose)
        return (points if self.output == "mesh" else points[..., :2]), pose
