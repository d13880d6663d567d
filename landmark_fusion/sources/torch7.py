"""Torch7 ``.t7`` files holding one numeric tensor (LS3D-W landmarks), read with ``torchfile``.

``torchfile`` builds a tensor as a strided view of the storage it read with ``numpy.fromfile``,
which silently returns fewer values for a truncated file; the view would then reach past the
storage. :func:`load_t7_tensor` therefore checks that the tensor lies inside a storage that was
actually read before touching its values, and turns every failure into a :class:`SourceError`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torchfile

from .base import SourceError

_byte_bounds = np.lib.array_utils.byte_bounds


def _inside_a_storage(tensor: np.ndarray, objects: dict) -> bool:
    """True if the bytes ``tensor`` addresses lie within one storage the reader loaded."""
    if tensor.size == 0:
        return True
    low, high = _byte_bounds(tensor)
    for candidate in objects.values():
        if isinstance(candidate, np.ndarray) and candidate.flags.owndata and candidate.size:
            s_low, s_high = _byte_bounds(candidate)
            if s_low <= low and high <= s_high:
                return True
    return False


def _find_tensor(obj: object) -> np.ndarray | None:
    """The tensor in a loaded object: the object itself or the only tensor of a table."""
    if isinstance(obj, np.ndarray):
        return obj
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    tensors = [value for value in values if isinstance(value, np.ndarray)]
    return tensors[0] if len(tensors) == 1 else None


def load_t7_tensor(path: Path | str) -> np.ndarray:
    """Read the numeric tensor of a Torch7 binary file as a float64 copy.

    Raises ``SourceError('missing_annotation')`` for a missing file and
    ``SourceError('corrupt_annotation')`` for anything unreadable, truncated or not a tensor.
    """
    try:
        with open(path, "rb") as handle:
            reader = torchfile.T7Reader(handle)
            obj = reader.read_obj()
            tensor = _find_tensor(obj)
            if tensor is None:
                raise SourceError("corrupt_annotation",
                                  f"{path}: holds a {type(obj).__name__}, not a tensor")
            if not _inside_a_storage(tensor, reader.objects):
                raise SourceError("corrupt_annotation",
                                  f"{path}: truncated Torch7 file (tensor of shape "
                                  f"{tuple(tensor.shape)} reaches past its storage)")
            if tensor.dtype.kind not in "iuf":
                raise SourceError("corrupt_annotation",
                                  f"{path}: tensor of non-numeric type {tensor.dtype}")
            return np.array(tensor, dtype=np.float64)
    except SourceError:
        raise
    except FileNotFoundError:
        raise SourceError("missing_annotation", f"{path}: file not found") from None
    except Exception as error:  # noqa: BLE001 - torchfile raises struct.error, EOFError, ValueError, ...
        raise SourceError("corrupt_annotation",
                          f"{path}: not a readable Torch7 file "
                          f"({type(error).__name__}: {error})") from None
