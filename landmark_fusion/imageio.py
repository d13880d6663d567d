"""Image decoding for the build: RGB or BGR uint8 pixels with named, per-sample errors.

The header is read first (Pillow opens files lazily), so an image over the pixel limit is refused
before any pixel is decoded. Truncated files are caught by their missing end marker (JPEG ``FFD9``,
PNG ``IEND``): OpenCV decodes the readable part of a truncated JPEG and returns it without error.
A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size (:func:`decode_image`) where only a small
crop of it is needed.

Where simplejpeg is installed (the ``jpeg`` extra), JPEGs are decoded by it, straight to RGB:
libjpeg-turbo with the same (accurate) IDCT, upsampling and DCT scaling as OpenCV's, so the same
pixels, without OpenCV's per-call work or a BGR→RGB pass (about 4 % faster on 450² photos, and the
crops need no colour conversion). Everything else, and any JPEG simplejpeg fails on (damaged
data, a kind it does not read), goes through OpenCV in its BGR order, which stays the reference for
what is refused.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .sources.base import DEFAULT_MAX_PIXELS, SourceError

#: How far before the end of the file the end marker may sit (some encoders pad after it).
_TAIL = 1024


def _check_complete(data: bytes, path: Path | str) -> None:
    """Refuse JPEG/PNG files whose end marker is missing (truncated downloads or copies)."""
    tail = data[-_TAIL:]
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in tail:
        raise SourceError("corrupt_image", f"{path}: truncated JPEG (no end-of-image marker)")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in tail:
        raise SourceError("corrupt_image", f"{path}: truncated PNG (no IEND chunk)")


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Size from a PNG's IHDR chunk (bytes 16-24), or None if it is not one."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None


#: JPEG start-of-frame markers (baseline, progressive, lossless, ...) that carry the image size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Size from a JPEG's start-of-frame segment, or None if it is not found."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # segments without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in _SOF and pos + 9 <= end:
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:  # end of image / start of scan before a frame
            return None
        pos += 2 + length
    return None


def header_size(data: bytes, path: Path | str) -> tuple[int, int]:
    """``(width, height)`` from the encoded header only, without decoding the pixels.

    PNG and JPEG headers are read directly (fast path); other formats go through Pillow, which
    also opens files lazily.
    """
    size = _png_size(data) or _jpeg_size(data)
    if size is not None:
        return size
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:
        raise SourceError("image_too_large", f"{path}: {error}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise SourceError("corrupt_image", f"{path}: unreadable image header ({error})") from None
    return int(width), int(height)


#: Decode reductions libjpeg's DCT scaling offers through OpenCV (factor → imread flag name).
REDUCED_FLAGS = {2: "IMREAD_REDUCED_COLOR_2", 4: "IMREAD_REDUCED_COLOR_4", 8: "IMREAD_REDUCED_COLOR_8"}


def _read_bytes(path: Path | str) -> bytes:
    try:
        with open(path, "rb") as file:  # not Path.read_bytes: no Path made per image
            data = file.read()
    except FileNotFoundError:
        raise SourceError("missing_image", f"{path}: image file not found") from None
    except IsADirectoryError:
        raise SourceError("missing_image", f"{path}: is a directory, not an image") from None
    except OSError as error:
        raise SourceError("corrupt_image", f"{path}: cannot read ({error})") from None
    if not data:
        raise SourceError("corrupt_image", f"{path}: empty file")
    return data


class Decoded(NamedTuple):
    """A decoded image: its pixels (H, W, 3) uint8 in ``channels`` order ("RGB" or "BGR"), the
    reduction applied and the (width, height) of the full image."""

    pixels: np.ndarray
    reduction: int
    size: tuple[int, int]
    channels: str


@functools.cache
def simplejpeg_module() -> Any:
    """simplejpeg where it is installed (the ``jpeg`` extra), else None (looked for once: a failed
    import searches the path again each time, about 30 µs)."""
    try:
        import simplejpeg
    except ImportError:
        return None
    return simplejpeg


def decode_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS, reduction: int = 1
                 ) -> Decoded:
    """Decode ``path``, a JPEG at ``1/reduction`` of its size where asked: a JPEG in RGB order
    where simplejpeg is installed, anything else in OpenCV's BGR order (see the module docstring).

    ``reduction`` 2, 4 or 8 is applied to JPEG files only (libjpeg scales while decoding, which
    costs a fraction of a full decode; the result is ``ceil(width / r) x ceil(height / r)`` pixels,
    reduced pixel ``i`` covering full pixels ``r·i .. r·i + r − 1``); other formats and other values
    decode in full. Errors as :func:`read_image`.
    """
    data = _read_bytes(path)
    width, height = header_size(data, path)
    if width * height > max_pixels:
        raise SourceError("image_too_large", f"{path}: {width}x{height} exceeds {max_pixels} pixels")
    _check_complete(data, path)
    jpeg = data[:2] == b"\xff\xd8"
    if reduction not in REDUCED_FLAGS or not jpeg:
        reduction = 1
    expected = (-(-height // reduction), -(-width // reduction))
    image = _simplejpeg_rgb(data, expected, reduction) if jpeg else None
    channels = "RGB"
    if image is None:
        image, channels = _opencv_bgr(data, path, reduction), "BGR"
    if image.shape[:2] != expected:
        raise SourceError("corrupt_image", f"{path}: decoded {image.shape[1]}x{image.shape[0]}, "
                                           f"header says {width}x{height}"
                                           + (f" (1/{reduction}: {expected[1]}x{expected[0]})"
                                              if reduction > 1 else ""))
    return Decoded(image, reduction, (width, height), channels)


def _simplejpeg_rgb(data: bytes, expected: tuple[int, int], reduction: int) -> np.ndarray | None:
    """The JPEG's RGB pixels at ``1/reduction`` (``expected``: their (height, width)) by
    simplejpeg, stored frame (EXIF orientation ignored); None without simplejpeg or where it fails."""
    simplejpeg = simplejpeg_module()
    if simplejpeg is None:
        return None
    # the smallest of libjpeg's scalings that still gives ``expected``: exactly 1/reduction
    scaling = {} if reduction == 1 else {"min_height": expected[0], "min_width": expected[1],
                                         "min_factor": reduction}
    try:  # not strict: libjpeg's warnings (extra bytes, a bad marker) do not fail, as in OpenCV
        return simplejpeg.decode_jpeg(data, "RGB", strict=False, **scaling)
    except ValueError:
        return None


def _opencv_bgr(data: bytes, path: Path | str, reduction: int) -> np.ndarray:
    """OpenCV's BGR decode of the file's bytes at ``1/reduction`` (stored frame)."""
    import cv2

    # Stored pixel frame, EXIF orientation ignored: annotations and the header size refer to it.
    flags = getattr(cv2, REDUCED_FLAGS[reduction]) if reduction > 1 else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise SourceError("corrupt_image", f"{path}: OpenCV could not decode the image")
    return image


def read_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS, rgb: bool = True
               ) -> np.ndarray:
    """Decode ``path`` to an (H, W, 3) uint8 RGB array; grayscale becomes 3 channels, alpha is dropped.

    ``rgb=False`` returns OpenCV's BGR order.

    Raises :class:`SourceError` with reason ``missing_image``, ``image_too_large`` or
    ``corrupt_image``.
    """
    import cv2

    decoded = decode_image(path, max_pixels)
    if (decoded.channels == "RGB") == rgb:
        return decoded.pixels
    return cv2.cvtColor(decoded.pixels, cv2.COLOR_BGR2RGB if rgb else cv2.COLOR_RGB2BGR)
