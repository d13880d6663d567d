"""How a shard set stores its crops: raw pixels (the default) or JPEG-encoded.

Raw crops are lossless and cost S·S·3 bytes a row (76.8 kB at S = 160). ``fuse build
--crop-encoding jpeg --jpeg-quality Q`` stores each crop as a JPEG file's bytes instead (a few kB),
which the readers decode in their row and batch access, so that every user of a shard set --
``ShardSet.get`` / ``get_batch``, the trainer's loader -- gets the same (S, S, 3) uint8 RGB arrays
from either kind. The choice is a file attribute (``crop_encoding``, ``jpeg_quality``) written only
for JPEG sets: a raw set's bytes are those of the versions before the option.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..imageio import simplejpeg_module

RAW, JPEG = "raw", "jpeg"
#: ``fuse build --crop-encoding`` choices.
ENCODINGS = (RAW, JPEG)
DEFAULT_JPEG_QUALITY = 95
ENCODING_KEY, QUALITY_KEY = "crop_encoding", "jpeg_quality"


def encoding_attributes(encoding: str, quality: int = DEFAULT_JPEG_QUALITY) -> dict[str, Any]:
    """The file attributes of a set whose crops are stored as ``encoding`` (none for raw)."""
    if encoding == RAW:
        return {}
    if encoding != JPEG:
        raise ValueError(f"unknown crop encoding {encoding!r} ({' or '.join(ENCODINGS)})")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality {quality} is not between 1 and 100")
    return {ENCODING_KEY: JPEG, QUALITY_KEY: int(quality)}


def crop_encoding(extra: Mapping[str, Any]) -> tuple[str, int | None]:
    """``(encoding, quality)`` from a set's extra attributes (raw where none is recorded)."""
    encoding = str(extra.get(ENCODING_KEY, RAW))
    if encoding not in ENCODINGS:
        raise ValueError(f"shard crops are stored as {encoding!r}, which this version cannot read "
                         f"({' or '.join(ENCODINGS)})")
    return encoding, (int(extra[QUALITY_KEY]) if encoding == JPEG else None)


def encode_crops(images: np.ndarray, quality: int) -> list[bytes]:
    """JPEG bytes of each (S, S, 3) uint8 RGB crop of ``images``."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    out = []
    for image in images:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR),
                                params)
        if not ok:
            raise ValueError("OpenCV could not encode a crop as JPEG")
        out.append(data.tobytes())
    return out


def jpeg_decoder() -> str:
    """The library :func:`decode_crops` uses: ``"simplejpeg"`` where it is installed (the ``jpeg`` extra),
    else ``"opencv"``. Both run libjpeg-turbo with its default (accurate) IDCT and upsampling, so they give
    the same pixels; simplejpeg decodes into the batch's array in RGB directly, without OpenCV's
    per-call overhead and BGR→RGB pass (measured about 1.25–1.7× faster on 160² crops, docs/benchmarks.md)."""
    return "simplejpeg" if simplejpeg_module() is not None else "opencv"


def decode_crops(blobs: Sequence[bytes | np.ndarray] | np.ndarray, size: int,
                 decoder: str | None = None) -> np.ndarray:
    """The (n, size, size, 3) uint8 RGB crops of JPEG ``blobs`` (ValueError naming a bad one).
    ``decoder``: ``"simplejpeg"`` or ``"opencv"``; default :func:`jpeg_decoder`."""
    out = np.empty((len(blobs), size, size, 3), dtype=np.uint8)
    if (decoder or jpeg_decoder()) == "simplejpeg":
        _decode_simplejpeg(blobs, size, out)
    else:
        _decode_opencv(blobs, size, out)
    return out


def _decode_simplejpeg(blobs: Sequence[bytes | np.ndarray] | np.ndarray, size: int, out: np.ndarray) -> None:
    simplejpeg = simplejpeg_module()
    for i, blob in enumerate(blobs):
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(blob)
            if (height, width) != (size, size):
                raise ValueError(f"{width}x{height}")
            simplejpeg.decode_jpeg(blob, "RGB", buffer=out[i])
        except ValueError:
            raise ValueError(f"crop {i} of the batch is not a {size}x{size} JPEG") from None


def _decode_opencv(blobs: Sequence[bytes | np.ndarray] | np.ndarray, size: int, out: np.ndarray) -> None:
    import cv2

    for i, blob in enumerate(blobs):
        buffer = np.frombuffer(blob, dtype=np.uint8) if isinstance(blob, bytes) else blob
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if len(buffer) else None
        if image is None or image.shape != (size, size, 3):
            raise ValueError(f"crop {i} of the batch is not a {size}x{size} JPEG")
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=out[i])


__all__ = ["DEFAULT_JPEG_QUALITY", "ENCODINGS", "JPEG", "RAW", "crop_encoding", "decode_crops",
           "encode_crops", "encoding_attributes", "jpeg_decoder"]
