"""The per-batch pixel work of the loader on the training device: photometric jitter and the network's
normalisation of the uint8 images the loader returns (vectorised over the batch, on the GPU when there is
one, so that the loader workers only read and warp).

The jitter (saturation about the grey image, contrast about the image mean, brightness as a factor) is one
affine colour map per image, ``y = A·x + t``: saturation is the 3×3 matrix ``s·I + (1−s)·1·wᵀ`` (``w`` the
grey weights), the contrast's mean follows from the image's channel means, so the whole jitter is a single
pass (a 1×1 convolution with one 3×3 weight per image), then the clip to 0…255.
"""
from __future__ import annotations

from typing import Any

import numpy as np

PIXEL_MEAN, PIXEL_SCALE = 127.5, 128.0
#: ITU-R BT.601 luma weights of the saturation jitter's grey image.
GREY = (0.299, 0.587, 0.114)


def colour_maps(channel_means: Any, jitter: Any) -> tuple[Any, Any]:
    """Per-image ``(A (B,3,3), t (B,3))`` of the jitter, from (B,3) channel means and (B,3) factors
    (saturation, contrast, brightness)."""
    import torch

    s, c, b = jitter[:, 0, None, None], jitter[:, 1, None, None], jitter[:, 2, None, None]
    grey = torch.tensor(GREY, dtype=jitter.dtype, device=jitter.device)
    eye = torch.eye(3, dtype=jitter.dtype, device=jitter.device)
    saturate = s * eye + (1 - s) * grey.expand(3, 3)  # every row: (1 − s)·w, plus s on the diagonal
    mean = (saturate @ channel_means[:, :, None]).mean(dim=(1, 2))  # the saturated image's mean
    a = b * c * saturate
    t = (b[:, 0, 0] * (1 - c[:, 0, 0]) * mean)[:, None].expand(-1, 3)
    return a, t


def jitter_tensor(x: Any, jitter: Any) -> Any:
    """(B,3,H,W) float 0…255 → jittered and clipped, by the factors ``jitter`` (B,3)."""
    import torch.nn.functional as F

    n, _, h, w = x.shape
    f = jitter.to(x.device, x.dtype)
    a, t = colour_maps(x.mean(dim=(2, 3)), f)
    y = F.conv2d(x.reshape(1, n * 3, h, w), a.reshape(n * 3, 3, 1, 1), t.reshape(n * 3), groups=n)
    return y.reshape(n, 3, h, w).clamp_(0, 255)


def network_input(images: Any, jitter: Any = None) -> Any:
    """(B,H,W,3) uint8 (a tensor on any device) → (B,3,H,W) float32 (pixel − 127.5)/128, jittered first
    when ``jitter`` (B,3) is given."""
    import torch

    x = images.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    if jitter is not None:
        x = jitter_tensor(x, jitter)
    return x.sub_(PIXEL_MEAN).div_(PIXEL_SCALE)


def jitter_pixels(images: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    """numpy form of the jitter: (B,H,W,3) uint8 → (B,H,W,3) float32 0…255."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return jitter_tensor(x, torch.from_numpy(np.asarray(jitter, np.float32))).permute(0, 2, 3, 1).numpy()
