"""Scheme points → canonical targets: one row per canonical landmark name plus a mask.

A scheme (``correspondences/schemes/<scheme>.yaml``) names each native index with a canonical
landmark or drops it. Row ``l`` of the targets holds the point of the native index named
``landmark_names[l]`` when that index is kept and visible; masked rows are 0.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .correspondence import load_scheme


def scheme_mapping(index_to_name: Sequence[str | None], landmark_names: Sequence[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(native_indices, canonical_indices)`` of the scheme's kept points found in ``landmark_names``."""
    position = {name: i for i, name in enumerate(landmark_names)}
    native, canonical = [], []
    for index, name in enumerate(index_to_name):
        if name is not None and name in position:
            native.append(index)
            canonical.append(position[name])
    if len(set(canonical)) != len(canonical):
        raise ValueError("two native indices map to the same canonical landmark")
    return np.asarray(native, dtype=np.int64), np.asarray(canonical, dtype=np.int64)


@lru_cache(maxsize=64)
def _cached_mapping(scheme: str, landmark_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    return scheme_mapping(load_scheme(scheme).index_to_name, landmark_names)


def unify_points(points: np.ndarray, visible: np.ndarray, mapping: tuple[np.ndarray, np.ndarray],
                 num_landmarks: int) -> tuple[np.ndarray, np.ndarray]:
    """(L, 2) float32 targets and (L,) bool mask from native (K, 2) points and (K,) visibility."""
    native, canonical = mapping
    targets = np.zeros((num_landmarks, 2), dtype=np.float32)
    mask = np.zeros(num_landmarks, dtype=bool)
    keep = np.asarray(visible, dtype=bool)[native]
    targets[canonical[keep]] = np.asarray(points, dtype=np.float64)[native[keep]]
    mask[canonical[keep]] = True
    return targets, mask


def unify(points: np.ndarray, visible: np.ndarray, scheme: str, landmark_names: Sequence[str]
          ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unify_points` with the mapping of the named scheme (cached per process)."""
    names = tuple(landmark_names)
    return unify_points(points, visible, _cached_mapping(scheme, names), len(names))


def unify_many(points: np.ndarray, visible: np.ndarray, scheme: str, landmark_names: Sequence[str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unify` for many faces of one scheme: (n, K, 2) points and (n, K) visibility give
    (n, L, 2) float64 targets (0 where masked) and an (n, L) mask, row for row the same values."""
    names = tuple(landmark_names)
    native, canonical = _cached_mapping(scheme, names)
    n = len(points)
    targets = np.zeros((n, len(names), 2), dtype=np.float64)
    mask = np.zeros((n, len(names)), dtype=bool)
    keep = np.asarray(visible, dtype=bool)[:, native]
    targets[:, canonical] = np.where(keep[..., None], points[:, native], 0.0)
    mask[:, canonical] = keep
    return targets, mask
