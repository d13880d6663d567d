"""On-the-fly augmentation: one 2×3 affine per sample from the stored crop (S×S) to the 128×128 network
input, combining rotation, box perturbation (scale and shift) and an optional horizontal flip; then
photometric jitter. Landmarks, mask and ``norm_size`` are transformed with the same affine; a flip also
permutes the landmarks with the vocabulary's mirror pairs. Without augmentation the affine is the plain
resize, so evaluation sees exactly the stored crop.

Pixel convention: integer coordinates are pixel centres (0-based), a W-pixel image spans −0.5…W−0.5.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import numpy as np

OUTPUT_SIZE = 128


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (all drawn uniformly; flip with probability ``flip_prob``)."""

    rotate_deg: float = 15.0
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.9, 1.1)
    shift_frac: float = 0.05  # of the output size, per axis
    brightness: float = 0.2   # multiplicative, 1 ± brightness
    contrast: float = 0.2
    saturation: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


NO_AUGMENT = AugmentConfig(0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0)


def resize_affine(crop_size: int, out: int = OUTPUT_SIZE) -> np.ndarray:
    """3×3 matrix of the plain resize crop → output under the pixel-centre convention."""
    k = out / crop_size
    return np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]], dtype=np.float64)


def sample_affine(rng: np.random.Generator, crop_size: int, cfg: AugmentConfig,
                  out: int = OUTPUT_SIZE) -> tuple[np.ndarray, bool]:
    """Random 2×3 affine crop → output and whether it mirrors. Rotation, scaling and the flip act about
    the output centre, then the shift moves the box."""
    c = (out - 1) / 2.0
    flip = bool(rng.random() < cfg.flip_prob)
    angle = np.radians(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    scale = rng.uniform(*cfg.scale_range)
    shift = rng.uniform(-cfg.shift_frac, cfg.shift_frac, size=2) * out
    to_centre = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]], dtype=np.float64)
    mirror = np.diag([-1.0 if flip else 1.0, 1.0, 1.0])
    ca, sa = np.cos(angle) * scale, np.sin(angle) * scale
    rot = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]], dtype=np.float64)
    back = np.array([[1, 0, c + shift[0]], [0, 1, c + shift[1]], [0, 0, 1]], dtype=np.float64)
    m = back @ rot @ mirror @ to_centre @ resize_affine(crop_size, out)
    return m[:2], flip


def transform_points(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine to (…,2) points."""
    return points @ m[:, :2].T + m[:, 2]


def affine_scale(m: np.ndarray) -> float:
    """Isotropic length scale of a 2×3 affine, √|det|."""
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


def photometric_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast and saturation on an RGB uint8 image; returns float32 in 0…255."""
    img = image.astype(np.float32)
    if cfg.saturation > 0:
        grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
        f = rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
        img = grey[..., None] + f * (img - grey[..., None])
    if cfg.contrast > 0:
        f = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
        img = img.mean() + f * (img - img.mean())
    if cfg.brightness > 0:
        img = img * rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    return np.clip(img, 0, 255)


def augment_sample(image: np.ndarray, landmarks: np.ndarray, mask: np.ndarray, norm_size: float,
                   rng: np.random.Generator | None, cfg: AugmentConfig,
                   mirror_permutation: np.ndarray | None, out: int = OUTPUT_SIZE) -> dict:
    """Warp one stored crop to the network input.

    Returns ``image`` (out,out,3) float32 0…255, ``landmarks`` (L,2) float32 in output pixels, ``mask``
    (L,) bool, ``norm_size`` in output pixels and ``affine`` (2,3) crop → output. ``rng=None`` means no
    augmentation (plain resize). A flip needs ``mirror_permutation`` (index of each landmark's mirror).
    """
    import cv2

    s = image.shape[0]
    if rng is None:
        m, flip = resize_affine(s, out)[:2], False
    else:
        m, flip = sample_affine(rng, s, cfg, out)
    if flip and mirror_permutation is None:
        raise ValueError("a horizontal flip needs the landmark mirror permutation")
    warped = cv2.warpAffine(np.ascontiguousarray(image), m, (out, out), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    pts = transform_points(m, np.asarray(landmarks, np.float64))
    msk = np.asarray(mask, bool)
    if flip:
        pts, msk = pts[mirror_permutation], msk[mirror_permutation]
    img = warped.astype(np.float32) if rng is None else photometric_jitter(warped, rng, cfg)
    pts = np.where(msk[:, None], pts, 0.0)
    return {"image": img, "landmarks": pts.astype(np.float32), "mask": msk,
            "norm_size": np.float32(norm_size * affine_scale(m)), "affine": m.astype(np.float32)}
