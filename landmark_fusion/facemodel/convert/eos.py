"""eos model files (``.bin``, cereal binary archive), read with numpy; no eos install needed.

Layout (source: docs/model-formats.md §3.1, from eos ``MorphableModel.hpp``, ``PcaModel.hpp``,
``Blendshape.hpp``, ``io/eigen_cerealisation.hpp``): little-endian; container sizes are uint64;
strings are uint64 length + bytes; Eigen matrices are int32 rows, int32 cols, then float32 data in
column-major order. ``MorphableModel`` carries a uint32 class version (1..4) before its fields:
shape PcaModel, colour PcaModel, [v>=2] optional ExpressionModel (bool "is empty", then int32
variant index 0 = PcaModel / 1 = Blendshapes), [v>=3] optional landmark map, texture coordinates
(uint64 n × 2 float64), [v>=4] texture triangles. A PcaModel is mean, orthonormal basis,
eigenvalues (variances), triangles (uint64 n × 3 int32, 0-based).
Shapes are ``mean + orthonormal · (c ⊙ sqrt(eigenvalues))``; the SFM is in millimetres, y up, +z
towards the viewer, subject's right at −x — already this project's axes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model import FaceModel, FaceModelError
from .common import PAPER_NUM_EXP, PAPER_NUM_ID, component_count, points, scaled_basis, triangles_from


@dataclass
class EosPcaModel:
    mean: np.ndarray  # (3N,)
    orthonormal_basis: np.ndarray  # (3N, K)
    eigenvalues: np.ndarray  # (K,) variances
    triangles: np.ndarray  # (T, 3) int32, 0-based


@dataclass
class EosMorphableModel:
    version: int
    shape: EosPcaModel
    color: EosPcaModel
    expression: EosPcaModel | list[tuple[str, np.ndarray]] | None
    landmark_definitions: dict[str, int] | None
    texture_coordinates: np.ndarray


class _Cursor:
    """Sequential little-endian reader over a bytes buffer with bounds checks."""

    def __init__(self, data: bytes, origin: str) -> None:
        self.data, self.pos, self.origin = data, 0, origin

    def take(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype)
        end = self.pos + dt.itemsize * count
        if count < 0 or end > len(self.data):
            raise FaceModelError(f"{self.origin}: truncated at byte {self.pos} (wanted {count} × {dt})")
        out = np.frombuffer(self.data, dtype=dt, count=count, offset=self.pos)
        self.pos = end
        return out

    def scalar(self, dtype: str) -> int | float | bool:
        return self.take(dtype, 1)[0].item()

    def size(self) -> int:
        n = int(self.scalar("<u8"))
        if n > len(self.data):
            raise FaceModelError(f"{self.origin}: implausible container size {n} at byte {self.pos - 8}")
        return n

    def string(self) -> str:
        return self.take("u1", self.size()).tobytes().decode("utf-8")

    def eigen(self) -> np.ndarray:
        rows, cols = int(self.scalar("<i4")), int(self.scalar("<i4"))
        if rows < 0 or cols < 0:
            raise FaceModelError(f"{self.origin}: negative matrix size {rows}×{cols}")
        return self.take("<f4", rows * cols).reshape(cols, rows).T  # column-major

    def pca_model(self) -> EosPcaModel:
        mean = self.eigen().reshape(-1)
        basis = self.eigen()
        ev = self.eigen().reshape(-1)
        tri = self.take("<i4", 3 * self.size()).reshape(-1, 3)
        return EosPcaModel(mean, basis, ev, tri)

    def blendshapes(self) -> list[tuple[str, np.ndarray]]:
        return [(self.string(), self.eigen().reshape(-1)) for _ in range(self.size())]

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def is_eos_model_file(path: str | os.PathLike) -> bool:
    """Whether a ``.bin`` starts like an eos ``MorphableModel`` (a class version 1..4)."""
    with open(path, "rb") as fh:
        head = np.frombuffer(fh.read(12), "<u4")
    return len(head) >= 1 and 1 <= head[0] <= 4


def read_eos_model(path: str | os.PathLike) -> EosMorphableModel:
    """Parse an eos ``MorphableModel`` ``.bin`` file completely (every byte must be consumed)."""
    cur = _Cursor(Path(path).read_bytes(), str(path))
    version = int(cur.scalar("<u4"))
    if not 1 <= version <= 4:
        raise FaceModelError(f"{path}: eos MorphableModel version {version} is not 1..4")
    shape, color = cur.pca_model(), cur.pca_model()
    expression: EosPcaModel | list[tuple[str, np.ndarray]] | None = None
    if version >= 2 and not cur.scalar("?"):
        kind = int(cur.scalar("<i4"))
        if kind == 0:
            expression = cur.pca_model()
        elif kind == 1:
            expression = cur.blendshapes()
        else:
            raise FaceModelError(f"{path}: unknown expression model variant {kind}")
    landmarks = None
    if version >= 3 and not cur.scalar("?"):
        landmarks = {}
        for _ in range(cur.size()):
            key = cur.string()
            landmarks[key] = int(cur.scalar("<i4"))
    uv = cur.take("<f8", 2 * cur.size()).reshape(-1, 2)
    if version >= 4:
        cur.take("<i4", 3 * cur.size())
    if not cur.at_end():
        raise FaceModelError(f"{path}: {len(cur.data) - cur.pos} unread bytes after the model")
    return EosMorphableModel(version, shape, color, expression, landmarks, uv)


def read_eos_blendshapes(path: str | os.PathLike) -> list[tuple[str, np.ndarray]]:
    """Parse an eos ``std::vector<Blendshape>`` ``.bin`` file → [(name, 3N deltas)]."""
    cur = _Cursor(Path(path).read_bytes(), str(path))
    shapes = cur.blendshapes()
    if not cur.at_end():
        raise FaceModelError(f"{path}: {len(cur.data) - cur.pos} unread bytes after the blendshapes")
    return shapes


def is_eos_blendshapes(path: str | os.PathLike) -> bool:
    """True when ``path`` parses as a blendshape list (and not as a model)."""
    try:
        read_eos_blendshapes(path)
        return True
    except (FaceModelError, UnicodeDecodeError, ValueError):
        return False


def convert_eos(path: str | os.PathLike, blendshapes: str | os.PathLike | None = None,
                num_id: int | None = None, num_exp: int | None = None, name: str | None = None,
                units: str = "mm") -> FaceModel:
    """An eos model (plus optional separate blendshapes file) as a `FaceModel`.

    Without ``blendshapes``, a file ``expression_blendshapes_<N>.bin`` beside the model is used when
    the model has no expression part of its own (the eos ``share/`` layout).
    """
    path = Path(path)
    m = read_eos_model(path)
    mean = points(m.shape.mean)
    n = len(mean)
    k = component_count(num_id, m.shape.orthonormal_basis.shape[1], PAPER_NUM_ID)
    id_std = np.sqrt(m.shape.eigenvalues[:k].astype(np.float64))
    id_basis = scaled_basis(m.shape.orthonormal_basis, id_std, k)
    tri, flipped = triangles_from(m.shape.triangles, n, one_based=False, mean=mean)
    meta = {"source": str(path), "source_format": f"eos MorphableModel v{m.version}",
            "id_components_available": int(m.shape.orthonormal_basis.shape[1]),
            "winding_flipped": flipped,
            "licence": "SFM: free for non-commercial use (eos README); other eos models: see their source"}
    expr = m.expression
    if expr is None:
        guess = path.with_name(f"expression_blendshapes_{n}.bin")
        if blendshapes is None and guess.exists():
            blendshapes = guess
        if blendshapes is not None:
            expr = read_eos_blendshapes(blendshapes)
            meta["expression_source"] = str(blendshapes)
    if isinstance(expr, EosPcaModel):
        e = component_count(num_exp, expr.orthonormal_basis.shape[1], PAPER_NUM_EXP)
        exp_std = np.sqrt(expr.eigenvalues[:e].astype(np.float64))
        exp_basis, kind, names = scaled_basis(expr.orthonormal_basis, exp_std, e), "pca", None
        meta["exp_components_available"] = int(expr.orthonormal_basis.shape[1])
    elif expr:
        e = component_count(num_exp, len(expr), len(expr))
        for nm, delta in expr:
            if delta.size != 3 * n:
                raise FaceModelError(f"blendshape {nm!r} has {delta.size} values, the model {3 * n}")
        exp_basis = np.stack([points(d) for _, d in expr[:e]]) if e else np.zeros((0, n, 3))
        exp_std, kind, names = np.ones(e), "blendshapes", [nm for nm, _ in expr[:e]]
        meta["exp_components_available"] = len(expr)
    else:
        exp_basis, exp_std, kind, names = np.zeros((0, n, 3)), np.zeros(0), "pca", None
    hints: dict[str, np.ndarray] = {}
    if m.landmark_definitions:
        meta["landmark_definitions"] = m.landmark_definitions
    return FaceModel(name or path.stem, units, mean, id_basis, id_std, exp_basis, exp_std, tri,
                     kind, names, hints, meta)
