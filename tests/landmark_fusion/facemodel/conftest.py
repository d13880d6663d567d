"""Small synthetic face-like meshes for the face-model tests (the real models come from ../shared)."""
from __future__ import annotations

import numpy as np
import pytest


def bump_grid(nx: int = 10, ny: int = 5, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A grid in x/y with a nose-like bump towards +z; triangles counter-clockwise seen from +z."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(-1, 1, ny))
    z = 0.6 * np.exp(-(xs ** 2 + ys ** 2) * 2.0)
    v = np.stack([xs, ys, z], axis=-1).reshape(-1, 3) * scale
    tri = []
    for j in range(ny - 1):
        for i in range(nx - 1):
            a, b, c, d = j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1, (j + 1) * nx + i
            tri += [(a, b, c), (a, c, d)]
    return v, np.asarray(tri, dtype=np.int64)


@pytest.fixture
def grid_mesh() -> tuple[np.ndarray, np.ndarray]:
    return bump_grid()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)
