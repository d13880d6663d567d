"""Square face crops and the affine maps between crop and image pixels.

Conventions: coordinates are 0-based pixel centres (x right, y down) in both frames, so pixel
``i`` spans ``[i − 0.5, i + 0.5]``. The crop is a similarity without rotation: the square box
``[x0, x0 + side] x [y0, y0 + side]`` of the image is resampled to ``size x size`` crop pixels, its
edges falling on the crop's outer edges (−0.5 and ``size − 0.5``): ``u = s·(x − x0) − 0.5`` with
``s = size/side``.

The box is the square around the box of the visible landmarks, same centre, side
``max(w, h)·(1 + 2·margin)`` (at least :data:`MIN_SIDE` image pixels). Pixels outside the image are
black (constant 0 border). When the crop shrinks the image by 2× or more, the region is first
reduced with area averaging (``cv2.INTER_AREA``) and then warped bilinearly, so that crops of large
images are not aliased.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Default crop side in pixels (the trainer takes 128-px inputs from it after augmentation).
DEFAULT_SIZE = 160
#: Default margin on each side of the landmark box, as a fraction of the box's longer side.
DEFAULT_MARGIN = 0.25
#: Smallest box side in image pixels (faces with one or two visible points).
MIN_SIDE = 8.0


@dataclass
class Crop:
    """A cropped face: the pixels and the maps between crop and original image coordinates."""

    image: np.ndarray          # (size, size, 3) uint8
    image_to_crop: np.ndarray  # (2, 3) float64
    crop_to_image: np.ndarray  # (2, 3) float64
    scale: float               # crop pixels per image pixel


def square_box(points: np.ndarray, visible: np.ndarray, margin: float = DEFAULT_MARGIN
               ) -> tuple[float, float, float]:
    """``(x0, y0, side)`` of the square crop box around the visible points."""
    pts = np.asarray(points, dtype=np.float64)[np.asarray(visible, dtype=bool)]
    if len(pts) == 0:
        raise ValueError("no visible point to place a crop around")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2.0
    side = max(float((hi - lo).max()) * (1.0 + 2.0 * margin), MIN_SIDE)
    return float(centre[0] - side / 2.0), float(centre[1] - side / 2.0), side


def box_transform(x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """(2, 3) affine taking image pixel centres to crop pixel centres for the given box."""
    s = size / side
    return np.array([[s, 0.0, -s * x0 - 0.5],
                     [0.0, s, -s * y0 - 0.5]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (..., 2) points through a (2, 3) affine."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]


def _prepare_source(image: np.ndarray, matrix: np.ndarray, size: int
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """Cut the image region the crop needs and area-reduce it when shrinking by 2× or more.

    Returns the smaller source image and the affine from its pixels to crop pixels, or None when
    the box lies wholly outside the image.
    """
    import cv2

    height, width = image.shape[:2]
    inverse = invert_affine(matrix)
    corners = apply_affine(inverse, np.array([[-0.5, -0.5], [size - 0.5, size - 0.5]]))
    factor = int(math.floor(1.0 / matrix[0, 0])) if matrix[0, 0] > 0 else 1
    pad = factor + 2  # keeps bilinear / area neighbours of the border pixels inside the cut
    x_lo = max(int(math.floor(corners[0, 0])) - pad, 0)
    y_lo = max(int(math.floor(corners[0, 1])) - pad, 0)
    x_hi = min(int(math.ceil(corners[1, 0])) + pad, width)
    y_hi = min(int(math.ceil(corners[1, 1])) + pad, height)
    if x_hi <= x_lo or y_hi <= y_lo:
        return None
    region = image[y_lo:y_hi, x_lo:x_hi]
    # region pixel (i, j) = image pixel (i + x_lo, j + y_lo)
    to_crop = matrix.copy()
    to_crop[:, 2] = apply_affine(matrix, np.array([x_lo, y_lo]))
    if factor >= 2:
        rw, rh = region.shape[1], region.shape[0]
        dw, dh = max(1, round(rw / factor)), max(1, round(rh / factor))
        region = cv2.resize(region, (dw, dh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / dw, rh / dh
        # reduced pixel u' covers region pixels [u'·fx, (u'+1)·fx): centre x = (u' + 0.5)·fx − 0.5
        reduce_to_region = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5]])
        to_crop = compose_affine(to_crop, reduce_to_region)
    return region, to_crop


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``outer ∘ inner`` (apply ``inner`` first)."""
    full_outer = np.vstack([outer, [0.0, 0.0, 1.0]])
    full_inner = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (full_outer @ full_inner)[:2]


def crop_box_image(image: np.ndarray, x0: float, y0: float, side: float,
                   size: int = DEFAULT_SIZE) -> Crop:
    """Resample the square box ``(x0, y0, side)`` of ``image`` to a ``size``-px crop."""
    import cv2

    matrix = box_transform(x0, y0, side, size)
    prepared = _prepare_source(image, matrix, size)
    if prepared is None:
        pixels = np.zeros((size, size, 3), np.uint8)
        return Crop(pixels, matrix, invert_affine(matrix), float(matrix[0, 0]))
    source, to_crop = prepared
    pixels = cv2.warpAffine(source, to_crop, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return Crop(pixels, matrix, invert_affine(matrix), float(matrix[0, 0]))


def crop_face(image: np.ndarray, points: np.ndarray, visible: np.ndarray,
              size: int = DEFAULT_SIZE, margin: float = DEFAULT_MARGIN) -> Crop:
    """Square crop around the visible ``points`` of one face (see the module docstring)."""
    x0, y0, side = square_box(points, visible, margin)
    return crop_box_image(image, x0, y0, side, size)


def norm_size(points: np.ndarray, visible: np.ndarray) -> float:
    """NME normaliser √(w·h) of the box of the visible points, in the points' own units."""
    pts = np.asarray(points, dtype=np.float64)[np.asarray(visible, dtype=bool)]
    w, h = pts.max(axis=0) - pts.min(axis=0)
    return float(math.sqrt(max(w, 0.0) * max(h, 0.0)))
