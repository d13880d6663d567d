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

A JPEG may be decoded at ``1/r`` of its size (``r`` = 2, 4, 8: libjpeg's DCT scaling, far cheaper
than a full decode) when the box still spans at least ``size`` pixels of the reduced image
(:func:`reduction_for`); :func:`crop_box_image` then takes the same box from the reduced pixels,
reduced pixel ``i'`` being the mean of full pixels ``r·i' .. r·i' + r − 1``, centre
``r·i' + (r − 1)/2``. The maps between crop and image stay those of the full image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .crop_defaults import DEFAULT_MARGIN, DEFAULT_SIZE

#: Smallest box side in image pixels (faces with one or two visible points).
MIN_SIDE = 8.0


@dataclass
class Crop:
    """A cropped face: the pixels and the maps between crop and original image coordinates."""

    image: np.ndarray          # (size, size, 3) uint8
    image_to_crop: np.ndarray  # (2, 3) float64
    crop_to_image: np.ndarray  # (2, 3) float64
    scale: float               # crop pixels per image pixel


def landmark_extent(points: np.ndarray, visible: np.ndarray) -> tuple[float, float, float, float]:
    """``(x_min, y_min, x_max, y_max)`` of the visible points."""
    pts = np.asarray(points, dtype=np.float64)
    mask = np.asarray(visible, dtype=bool)
    if not mask.all():
        pts = pts[mask]
    if len(pts) == 0:
        raise ValueError("no visible point to place a crop around")
    (x_min, y_min), (x_max, y_max) = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
    return x_min, y_min, x_max, y_max


def box_around(extent: tuple[float, float, float, float], margin: float = DEFAULT_MARGIN
               ) -> tuple[float, float, float]:
    """``(x0, y0, side)`` of the square crop box around a landmark extent (see the module docstring)."""
    x_min, y_min, x_max, y_max = extent
    side = max(max(x_max - x_min, y_max - y_min) * (1.0 + 2.0 * margin), MIN_SIDE)
    return (x_min + x_max - side) / 2.0, (y_min + y_max - side) / 2.0, side


def square_box(points: np.ndarray, visible: np.ndarray, margin: float = DEFAULT_MARGIN
               ) -> tuple[float, float, float]:
    """``(x0, y0, side)`` of the square crop box around the visible points."""
    return box_around(landmark_extent(points, visible), margin)


def box_transform(x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """(2, 3) affine taking image pixel centres to crop pixel centres for the given box."""
    s = size / side
    return np.array([[s, 0.0, -s * x0 - 0.5],
                     [0.0, s, -s * y0 - 0.5]])


def box_maps(boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`box_transform` and its inverse for many boxes at once: for (n, 3) boxes
    ``(x0, y0, side)``, the (n,) scales ``s``, the (n, 2) shifts (image to crop: ``s·x + shift``)
    and the (n, 2, 3) crop-to-image maps, the same numbers as :func:`crop_box_image`'s."""
    x0, y0, side = boxes[:, 0], boxes[:, 1], boxes[:, 2]
    scale = size / side
    shift = np.stack([-scale * x0 - 0.5, -scale * y0 - 0.5], axis=1)
    inverse = np.zeros((len(boxes), 2, 3))
    inverse[:, 0, 0] = inverse[:, 1, 1] = 1.0 / scale
    inverse[:, 0, 2], inverse[:, 1, 2] = x0 + 0.5 / scale, y0 + 0.5 / scale
    return scale, shift, inverse


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map (closed form; raises ``ValueError`` if it is singular)."""
    (a, b, c), (d, e, f) = np.asarray(matrix, dtype=np.float64).tolist()
    det = a * e - b * d
    if det == 0.0 or not math.isfinite(det):
        raise ValueError("the affine map is not invertible")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return np.array([[ia, ib, -(ia * c + ib * f)],
                     [id_, ie, -(id_ * c + ie * f)]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (..., 2) points through a (2, 3) affine."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]


def _prepare_source(image: np.ndarray, x0: float, y0: float, side: float, size: int
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """Cut the image region the box needs and area-reduce it when shrinking by 2× or more.

    Returns the smaller source image and the affine from its pixels to crop pixels, or None when
    the box lies wholly outside the image.
    """
    import cv2

    height, width = image.shape[:2]
    s = size / side
    factor = int(math.floor(side / size))
    pad = factor + 2  # keeps bilinear / area neighbours of the border pixels inside the cut
    x_lo = max(int(math.floor(x0)) - pad, 0)
    y_lo = max(int(math.floor(y0)) - pad, 0)
    x_hi = min(int(math.ceil(x0 + side)) + pad, width)
    y_hi = min(int(math.ceil(y0 + side)) + pad, height)
    if x_hi <= x_lo or y_hi <= y_lo:
        return None
    region = image[y_lo:y_hi, x_lo:x_hi]
    # region pixel (i, j) = image pixel (i + x_lo, j + y_lo): u = s·(i + x_lo − x0) − 0.5
    sx = sy = s
    tx, ty = s * (x_lo - x0) - 0.5, s * (y_lo - y0) - 0.5
    if factor >= 2:
        rw, rh = region.shape[1], region.shape[0]
        dw, dh = max(1, round(rw / factor)), max(1, round(rh / factor))
        region = cv2.resize(region, (dw, dh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / dw, rh / dh
        # reduced pixel i' covers region pixels [i'·fx, (i'+1)·fx): centre i = (i' + 0.5)·fx − 0.5
        tx, ty = tx + s * (0.5 * fx - 0.5), ty + s * (0.5 * fy - 0.5)
        sx, sy = s * fx, s * fy
    return region, np.array([[sx, 0.0, tx], [0.0, sy, ty]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``outer ∘ inner`` (apply ``inner`` first)."""
    full_outer = np.vstack([outer, [0.0, 0.0, 1.0]])
    full_inner = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (full_outer @ full_inner)[:2]


#: The decode reductions a crop may ask for, largest first.
REDUCTIONS = (8, 4, 2)


def reduction_for(side: float, size: int) -> int:
    """The largest decode reduction (8, 4, 2, else 1) that leaves a ``side``-px box at least
    ``size`` pixels wide, so that the crop is never upsampled from reduced pixels."""
    for factor in REDUCTIONS:
        if side >= factor * size:
            return factor
    return 1


def reduced_box(x0: float, y0: float, side: float, reduction: int) -> tuple[float, float, float]:
    """The box ``(x0, y0, side)`` of full-image pixel centres in a ``1/reduction`` image's pixels."""
    if reduction == 1:  # the very same numbers (a full decode's crop is unchanged bit for bit)
        return x0, y0, side
    r = float(reduction)
    return (x0 + 0.5) / r - 0.5, (y0 + 0.5) / r - 0.5, side / r


def resample_box(image: np.ndarray, x0: float, y0: float, side: float, size: int = DEFAULT_SIZE,
                 reduction: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """The pixels of :func:`crop_box_image` alone: the box ``(x0, y0, side)`` (full-image pixels)
    of ``image`` (decoded at ``1/reduction``) resampled to ``size x size``, written into ``out``
    (a C-contiguous array of that shape and the image's dtype) where one is given."""
    import cv2

    prepared = _prepare_source(image, *reduced_box(x0, y0, side, reduction), size)
    if prepared is None:
        if out is None:
            return np.zeros((size, size, *image.shape[2:]), image.dtype)
        out[...] = 0
        return out
    source, to_crop = prepared
    return cv2.warpAffine(source, to_crop, (size, size), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def crop_box_image(image: np.ndarray, x0: float, y0: float, side: float,
                   size: int = DEFAULT_SIZE, reduction: int = 1) -> Crop:
    """Resample the square box ``(x0, y0, side)`` of ``image`` to a ``size``-px crop.

    ``reduction``: ``image`` is the full image decoded at ``1/reduction`` of its size; the box and
    the returned maps are in the full image's pixels. Works on any channel order (the pixels are
    only resampled).
    """
    scale, _, inverse = box_maps(np.array([[x0, y0, side]], dtype=np.float64), size)
    return Crop(resample_box(image, x0, y0, side, size, reduction), box_transform(x0, y0, side, size),
                inverse[0], float(scale[0]))


def crop_face(image: np.ndarray, points: np.ndarray, visible: np.ndarray,
              size: int = DEFAULT_SIZE, margin: float = DEFAULT_MARGIN) -> Crop:
    """Square crop around the visible ``points`` of one face (see the module docstring)."""
    x0, y0, side = square_box(points, visible, margin)
    return crop_box_image(image, x0, y0, side, size)


def norm_size(points: np.ndarray, visible: np.ndarray) -> float:
    """NME normaliser √(w·h) of the box of the visible points, in the points' own units."""
    return extent_norm_size(landmark_extent(points, visible))


def extent_norm_sizes(extents: np.ndarray) -> np.ndarray:
    """:func:`extent_norm_size` of (n, 4) extents."""
    width = np.maximum(extents[:, 2] - extents[:, 0], 0.0)
    height = np.maximum(extents[:, 3] - extents[:, 1], 0.0)
    return np.sqrt(width * height)


def extent_norm_size(extent: tuple[float, float, float, float]) -> float:
    """√(w·h) of a landmark extent ``(x_min, y_min, x_max, y_max)``."""
    x_min, y_min, x_max, y_max = extent
    return math.sqrt(max(x_max - x_min, 0.0) * max(y_max - y_min, 0.0))
