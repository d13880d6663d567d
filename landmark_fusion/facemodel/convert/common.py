"""Helpers shared by the model converters: flat xyz vectors, PCA bases, counts, triangles, pickles."""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..model import FaceModelError, orient_towards_viewer

#: the paper's component counts (§3.1): 100 identity + 29 expression
PAPER_NUM_ID = 100
PAPER_NUM_EXP = 29


class PickleRefusedError(FaceModelError):
    """A pickle-based input was given without explicit permission (pickles can run code)."""


def points(flat: np.ndarray) -> np.ndarray:
    """A flat xyz-interleaved 3N vector (any shape with 3N entries) → (N, 3) float32."""
    flat = np.asarray(flat).reshape(-1)
    if flat.size % 3:
        raise FaceModelError(f"a vertex vector of {flat.size} values is not a multiple of 3")
    return flat.reshape(-1, 3).astype(np.float32)


def scaled_basis(pc: np.ndarray, std: np.ndarray, count: int) -> np.ndarray:
    """Columns of a (3N, K) xyz-interleaved basis times their standard deviations → (count, N, 3).

    The source's shape is ``mean + pc @ (c ⊙ std)`` with c in std units; the result holds
    ``pc[:, k] * std[k]`` so that `FaceModel.decode` takes c directly.
    """
    pc = np.asarray(pc)
    std = np.asarray(std, dtype=np.float64).reshape(-1)
    if pc.ndim != 2 or pc.shape[0] % 3:
        raise FaceModelError(f"a basis must be (3N, K), got {pc.shape}")
    if std.size < count or pc.shape[1] < count:
        raise FaceModelError(f"asked for {count} components, basis has {pc.shape[1]}, std {std.size}")
    cols = pc[:, :count].astype(np.float64) * std[:count]
    return np.ascontiguousarray(cols.T.reshape(count, -1, 3).astype(np.float32))


def component_count(requested: int | None, available: int, paper_default: int) -> int:
    """``requested`` (checked), else the paper's count where the model has that many, else all."""
    if requested is None:
        return min(paper_default, available)
    if requested < 0 or requested > available:
        raise FaceModelError(f"asked for {requested} components, the model has {available}")
    return int(requested)


def triangles_from(tri: np.ndarray, num_vertices: int, one_based: bool, mean: np.ndarray
                   ) -> tuple[np.ndarray, bool]:
    """(T, 3) or (3, T) triangle array → 0-based int64 (T, 3), wound counter-clockwise from the front.

    Returns the triangles and whether the winding had to be flipped.
    """
    tri = np.asarray(tri).astype(np.int64)
    if tri.ndim != 2 or 3 not in tri.shape:
        raise FaceModelError(f"triangles must be (T, 3) or (3, T), got {tri.shape}")
    if tri.shape[1] != 3:
        tri = tri.T
    if one_based:
        tri = tri - 1
    if tri.size and (tri.min() < 0 or tri.max() >= num_vertices):
        base = "1-based" if one_based else "0-based"
        raise FaceModelError(f"{base} triangle indices out of range for {num_vertices} vertices")
    return orient_towards_viewer(mean, np.ascontiguousarray(tri))


def load_pickle(path: str | os.PathLike, allow_pickle: bool) -> Any:
    """Unpickle ``path`` only when allowed; otherwise raise `PickleRefusedError` naming the flag."""
    if not allow_pickle:
        raise PickleRefusedError(
            f"{path} is a Python pickle, which can run code when read; refusing it. "
            "Pass --allow-pickle (allow_pickle=True) if you trust the file.")
    with open(path, "rb") as fh:
        return pickle.load(fh)


def is_pickle_path(path: Path) -> bool:
    return path.suffix.lower() in (".pkl", ".pickle")
