"""MATLAB ``.mat`` annotation files (300W-LP, AFLW2000-3D): one checked loader, one writer.

The loader turns every way a file can be bad -- absent, truncated, not a MAT file, a key missing, an
array of the wrong shape or of a non-numeric type -- into a :class:`SourceError` that names the file
and the key, so a reader can reject the sample and go on. A defect in an *optional* key (pose,
crop box, extra points) need not cost the face: given a ``notes`` list, the loader leaves such a
key out and says why in ``notes``, and the reader keeps the face with that note in its ``extra``.
"""
from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .base import SourceError
from .mat5 import read_numeric

#: A required shape: a tuple of ints, ``None`` in a slot accepts any length there.
Shape = tuple[int | None, ...]


def _shape_ok(actual: tuple[int, ...], wanted: Shape) -> bool:
    return len(actual) == len(wanted) and all(w is None or a == w for a, w in zip(actual, wanted, strict=False))


def load_mat(path: Path | str, required: Mapping[str, Shape],
             optional: Mapping[str, Shape] | None = None,
             notes: list[str] | None = None) -> dict[str, np.ndarray]:
    """Load the ``required`` (and any present ``optional``) numeric arrays of a ``.mat`` file.

    Only these variables are decoded: plain numeric MATLAB 5 files are walked by :mod:`.mat5`,
    anything else is read with ``scipy.io.loadmat(variable_names=...)``.

    Returns ``{key: array}`` holding only the requested keys. Every failure is a
    :class:`SourceError`: ``missing_annotation`` if the file does not exist, otherwise
    ``corrupt_annotation`` with a detail naming the file and, where it applies, the key. With a
    ``notes`` list, an optional key of the wrong type or shape is left out of the result and
    described in ``notes`` instead.
    """
    optional = dict(optional or {})
    names = list(required) + list(optional)
    try:
        with open(path, "rb") as file:  # (no Path made per file: the name is only printed)
            data = file.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise SourceError("missing_annotation", f"{path}: file not found") from None
    except OSError as error:
        raise SourceError("corrupt_annotation", f"{path}: cannot read ({error})") from None
    content = read_numeric(data, names)
    if content is None:  # not a plain numeric MATLAB 5 file: scipy reads it (and names what is wrong)
        content = _scipy_load(data, path, names)

    result: dict[str, np.ndarray] = {}
    for key, shape in [*required.items(), *optional.items()]:
        if key not in content:
            if key in required:
                raise SourceError("corrupt_annotation", f"{path}: key {key!r} is missing")
            continue
        value = content[key]
        problem = None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            problem = f"key {key!r} is not a numeric array"
        elif not _shape_ok(value.shape, shape):
            wanted = tuple("any" if s is None else s for s in shape)
            problem = f"key {key!r} has shape {value.shape}, expected {wanted}"
        if problem is None:
            result[key] = value
        elif key in required or notes is None:
            raise SourceError("corrupt_annotation", f"{path}: {problem}")
        else:
            notes.append(f"optional {problem}; left out")
    return result


def _scipy_load(data: bytes, path: Path | str, names: list[str]) -> dict:
    """``scipy.io.loadmat`` of the file's bytes, its failures as :class:`SourceError`."""
    import scipy.io

    try:
        return scipy.io.loadmat(io.BytesIO(data), variable_names=names)
    except Exception as error:  # noqa: BLE001 -- scipy raises many types on damaged bytes (ValueError, OSError, zlib.error, ...)
        raise SourceError("corrupt_annotation",
                          f"{path}: cannot be read as a MAT file ({type(error).__name__}: {error})") from None


def save_mat(path: Path | str, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` as a compressed MATLAB 5 file, the flavour the 3DDFA-pipeline files use."""
    import scipy.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), dict(arrays), format="5", do_compression=True, oned_as="row")
    return path


def pose_yaw_degrees(pose_para: np.ndarray) -> float:
    """Yaw in degrees from a 3DDFA ``Pose_Para`` ``[pitch, yaw, roll, tx, ty, tz, s]`` (radians).

    Positive = face turned towards image-left (source: docs/formats.md §3, verified on samples).
    """
    return float(np.degrees(float(np.asarray(pose_para).reshape(-1)[1])))


def optional_yaw(arrays: Mapping[str, np.ndarray], notes: list[str], key: str = "Pose_Para") -> float:
    """Yaw in degrees from ``arrays[key]`` (see :func:`pose_yaw_degrees`); NaN with a note when the
    key is absent or its yaw is not finite -- the points of the face do not depend on it."""
    if key not in arrays:
        if not any(repr(key) in note for note in notes):
            notes.append(f"no {key}: yaw unknown")
        return math.nan
    yaw = pose_yaw_degrees(arrays[key])
    if not math.isfinite(yaw):
        notes.append(f"{key} holds a non-finite yaw: yaw unknown")
        return math.nan
    return yaw


def require_finite(values: np.ndarray, path: Path | str, key: str) -> None:
    """Reject NaN/inf in a loaded array, naming the key."""
    if not np.all(np.isfinite(values)):
        raise SourceError("bad_coordinates", f"{path}: key {key!r} holds NaN or infinite values")


__all__ = ["load_mat", "save_mat", "pose_yaw_degrees", "optional_yaw", "require_finite", "Shape"]
