"""`FaceModel`: a linear 3-D morphable face model in one convention, and its own npz file format.

Convention (docs/architecture.md, docs/models.md): ``mean`` (N,3); ``id_basis`` (K,N,3) and
``exp_basis`` (E,N,3) scaled to one standard deviation (blendshapes: one unit of weight), so the
coefficients of `decode` are in standard-deviation units; ``id_std`` / ``exp_std`` give the standard
deviation of the source model's own coefficients; triangles counter-clockwise seen from the front;
axes +x subject's left, +y up, +z towards the viewer.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..geometry import face_normals, vertex_normals
from ..safeload import ArrayFileError, open_npz

FORMAT_NAME = "landmark_fusion.facemodel"
FORMAT_VERSION = 1
EXPRESSION_KINDS = ("pca", "blendshapes")

#: millimetres per unit for the length units a model may be stored in
MM_PER_UNIT = {"um": 1e-3, "mm": 1.0, "cm": 10.0, "dm": 100.0, "m": 1000.0}


class FaceModelError(ValueError):
    """A model file or array set that does not satisfy the FaceModel contract."""


#: Arrays every file written by `FaceModel.save` holds (``exp_names`` and ``hint/*`` are optional).
SAVED_ARRAYS = ("format", "format_version", "name", "units", "mean", "id_basis", "id_std",
                "exp_basis", "exp_std", "exp_kind", "triangles", "metadata_json")


@dataclass(eq=False)
class FaceModel:
    """Mean shape plus identity and expression bases, all scaled to one standard deviation."""

    name: str
    units: str
    mean: np.ndarray
    id_basis: np.ndarray
    id_std: np.ndarray
    exp_basis: np.ndarray
    exp_std: np.ndarray
    triangles: np.ndarray
    exp_kind: str = "pca"
    exp_names: list[str] | None = None
    landmarks_hint: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mean = np.ascontiguousarray(self.mean, dtype=np.float32)
        n = self.num_vertices
        if self.mean.ndim != 2 or self.mean.shape[1] != 3:
            raise FaceModelError(f"mean must be (N, 3), got {self.mean.shape}")
        self.id_basis = _basis(self.id_basis, n, "id_basis")
        self.exp_basis = _basis(self.exp_basis, n, "exp_basis")
        self.id_std = _std(self.id_std, self.id_basis.shape[0], "id_std")
        self.exp_std = _std(self.exp_std, self.exp_basis.shape[0], "exp_std")
        tri = np.asarray(self.triangles)
        if tri.size == 0:
            tri = tri.reshape(0, 3)
        if tri.ndim != 2 or tri.shape[1] != 3:
            raise FaceModelError(f"triangles must be (T, 3), got {tri.shape}")
        tri = tri.astype(np.int64)
        if tri.size and (tri.min() < 0 or tri.max() >= n):
            raise FaceModelError(f"triangle indices outside 0..{n - 1}: {tri.min()}..{tri.max()}")
        self.triangles = tri
        if self.units not in MM_PER_UNIT:
            raise FaceModelError(f"unknown units {self.units!r}; known: {sorted(MM_PER_UNIT)}")
        if self.exp_kind not in EXPRESSION_KINDS:
            raise FaceModelError(f"exp_kind must be one of {EXPRESSION_KINDS}, got {self.exp_kind!r}")
        if self.exp_names is not None:
            self.exp_names = [str(s) for s in self.exp_names]
            if len(self.exp_names) != self.num_exp:
                raise FaceModelError(f"{len(self.exp_names)} exp_names for {self.num_exp} components")
        self.landmarks_hint = {str(k): np.asarray(v, dtype=np.int64) for k, v in self.landmarks_hint.items()}

    # ---- sizes and units -------------------------------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return int(self.mean.shape[0])

    @property
    def num_id(self) -> int:
        return int(self.id_basis.shape[0])

    @property
    def num_exp(self) -> int:
        return int(self.exp_basis.shape[0])

    @property
    def mm_per_unit(self) -> float:
        """Millimetres per model length unit (e.g. 10 for a model in cm)."""
        return MM_PER_UNIT[self.units]

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """(min xyz, max xyz) of the mean shape, in model units."""
        return self.mean.min(axis=0), self.mean.max(axis=0)

    # ---- geometry --------------------------------------------------------------------------------
    def decode(self, x_id: np.ndarray | None = None, x_exp: np.ndarray | None = None,
               vertices: np.ndarray | None = None) -> np.ndarray:
        """Vertices ``mean + Σ x_id·id_basis + Σ x_exp·exp_basis`` → (..., N|V, 3).

        Coefficients are in standard-deviation units (blendshapes: weights) with any leading batch
        dimensions; fewer coefficients than components use the leading components. ``vertices``
        (V,) restricts the result to those vertex indices (the trainer needs only landmark vertices).
        """
        idx = slice(None) if vertices is None else np.asarray(vertices, dtype=np.int64)
        mean = self.mean[idx]
        batch: tuple[int, ...] = ()
        terms = []
        for x, basis, label in ((x_id, self.id_basis, "x_id"), (x_exp, self.exp_basis, "x_exp")):
            if x is None:
                continue
            x = np.asarray(x)
            k = x.shape[-1]
            if k > basis.shape[0]:
                raise FaceModelError(f"{label} has {k} coefficients, the model {basis.shape[0]}")
            if k == 0:
                batch = np.broadcast_shapes(batch, x.shape[:-1])
                continue
            b = basis[:k][:, idx].reshape(k, -1)
            terms.append((x.astype(np.float32, copy=False) @ b).reshape(*x.shape[:-1], -1, 3))
            batch = np.broadcast_shapes(batch, x.shape[:-1])
        out = np.broadcast_to(mean, (*batch, *mean.shape)).astype(np.float32, copy=True)
        for t in terms:
            out += t
        return out

    def subset(self, vertices: np.ndarray) -> FaceModel:
        """The model restricted to ``vertices`` (in that order); keeps the triangles fully inside."""
        v = np.asarray(vertices, dtype=np.int64)
        remap = np.full(self.num_vertices, -1, dtype=np.int64)
        remap[v] = np.arange(len(v))
        tri = remap[self.triangles]
        tri = tri[(tri >= 0).all(axis=1)]
        hints = {}
        for key, idx in self.landmarks_hint.items():
            mapped = np.where(idx >= 0, remap[np.clip(idx, 0, None)], -1)
            hints[key] = mapped
        meta = dict(self.metadata, subset_of=self.num_vertices)
        return FaceModel(self.name, self.units, self.mean[v], self.id_basis[:, v], self.id_std,
                         self.exp_basis[:, v], self.exp_std, tri, self.exp_kind, self.exp_names,
                         hints, meta)

    def truncate(self, num_id: int | None = None, num_exp: int | None = None) -> FaceModel:
        """The model with only the first ``num_id`` / ``num_exp`` components (None: keep all)."""
        ki = self.num_id if num_id is None else min(int(num_id), self.num_id)
        ke = self.num_exp if num_exp is None else min(int(num_exp), self.num_exp)
        names = None if self.exp_names is None else self.exp_names[:ke]
        return FaceModel(self.name, self.units, self.mean, self.id_basis[:ki], self.id_std[:ki],
                         self.exp_basis[:ke], self.exp_std[:ke], self.triangles, self.exp_kind,
                         names, dict(self.landmarks_hint), dict(self.metadata))

    def to_units(self, units: str) -> FaceModel:
        """The same model with lengths (mean, bases) expressed in ``units``; std values are unchanged
        because they describe the source's coefficients, not lengths of this model."""
        if units not in MM_PER_UNIT:
            raise FaceModelError(f"unknown units {units!r}; known: {sorted(MM_PER_UNIT)}")
        f = np.float32(self.mm_per_unit / MM_PER_UNIT[units])
        return FaceModel(self.name, units, self.mean * f, self.id_basis * f, self.id_std,
                         self.exp_basis * f, self.exp_std, self.triangles, self.exp_kind,
                         self.exp_names, dict(self.landmarks_hint), dict(self.metadata))

    def vertex_normals(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """Area-weighted unit vertex normals of ``vertices`` (default the mean) → (N, 3)."""
        return vertex_normals(self.mean if vertices is None else vertices, self.triangles)

    # ---- file format -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model as the project's npz format (docs/models.md §File format)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT_NAME),
            "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
            "name": np.array(self.name),
            "units": np.array(self.units),
            "mean": self.mean,
            "id_basis": self.id_basis,
            "id_std": self.id_std,
            "exp_basis": self.exp_basis,
            "exp_std": self.exp_std,
            "exp_kind": np.array(self.exp_kind),
            "triangles": self.triangles,
            "metadata_json": np.array(json.dumps(self.metadata, sort_keys=True, default=_json_default)),
        }
        if self.exp_names is not None:
            arrays["exp_names"] = np.array(self.exp_names, dtype=str)
        for key, idx in self.landmarks_hint.items():
            arrays[f"hint/{key}"] = idx
        path = Path(path)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stubs type **kwds as allow_pickle's bool

    @classmethod
    def load(cls, path: str | os.PathLike) -> FaceModel:
        """Read a file written by `save`. Never unpickles: a file holding pickled objects raises
        :class:`~landmark_fusion.safeload.PickledArrayError`; a damaged or incomplete one
        :class:`FaceModelError`, each naming the file."""
        with open_npz(path) as d:
            if not is_facemodel_npz(d):
                raise FaceModelError(f"{path}: not a {FORMAT_NAME} npz (no matching 'format' key)")
            missing = [key for key in SAVED_ARRAYS if key not in d.files]
            if missing:
                raise FaceModelError(f"{path}: a {FORMAT_NAME} npz without {', '.join(missing)}")
            try:
                version = int(d["format_version"])
                if version > FORMAT_VERSION:
                    raise FaceModelError(f"{path}: format_version {version} is newer than {FORMAT_VERSION}")
                hints = {k[len("hint/"):]: d[k] for k in d.files if k.startswith("hint/")}
                names = [str(s) for s in d["exp_names"]] if "exp_names" in d.files else None
                return cls(str(d["name"]), str(d["units"]), d["mean"], d["id_basis"], d["id_std"],
                           d["exp_basis"], d["exp_std"], d["triangles"], str(d["exp_kind"]), names,
                           hints, json.loads(str(d["metadata_json"])))
            except ArrayFileError:
                raise
            except FaceModelError as error:  # the arrays break the contract (shapes, units, ...)
                if str(error).startswith(str(path)):
                    raise
                raise FaceModelError(f"{path}: {error}") from None
            except (TypeError, ValueError) as error:  # e.g. text where numbers belong, bad JSON
                raise FaceModelError(f"{path}: not a valid {FORMAT_NAME} npz ({error})") from None

    def summary(self) -> dict[str, Any]:
        """Counts, units and bounding box, for `fuse model info`."""
        lo, hi = self.bounding_box()
        return {
            "name": self.name,
            "vertices": self.num_vertices,
            "triangles": int(len(self.triangles)),
            "identity_components": self.num_id,
            "expression_components": self.num_exp,
            "expression_kind": self.exp_kind,
            "units": self.units,
            "mm_per_unit": self.mm_per_unit,
            "bbox_min": [float(x) for x in lo],
            "bbox_max": [float(x) for x in hi],
            "bbox_size_mm": [float(x) * self.mm_per_unit for x in hi - lo],
            "landmarks_hint": {k: int(len(v)) for k, v in self.landmarks_hint.items()},
        }


def is_facemodel_npz(npz: Any) -> bool:
    """True for an opened npz written by `FaceModel.save`."""
    return "format" in npz.files and str(npz["format"]) == FORMAT_NAME


def orient_towards_viewer(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, bool]:
    """Triangles wound so that the mesh faces +z (counter-clockwise seen from the front).

    A face mesh is an open surface seen from the front: the area-weighted sum of its triangle
    normals points towards the viewer when the winding is counter-clockwise. Returns the triangles
    and whether they were flipped.
    """
    tri = np.asarray(triangles, dtype=np.int64)
    if len(tri) == 0:
        return tri, False
    if face_normals(vertices, tri)[:, 2].sum() < 0:
        return tri[:, [0, 2, 1]], True
    return tri, False


def _basis(b: np.ndarray, n: int, label: str) -> np.ndarray:
    b = np.asarray(b, dtype=np.float32)
    if b.size == 0:
        return np.zeros((0, n, 3), dtype=np.float32)
    if b.ndim != 3 or b.shape[1:] != (n, 3):
        raise FaceModelError(f"{label} must be (K, {n}, 3), got {b.shape}")
    return np.ascontiguousarray(b)


def _std(s: np.ndarray, k: int, label: str) -> np.ndarray:
    s = np.asarray(s, dtype=np.float64).reshape(-1)
    if s.shape != (k,):
        raise FaceModelError(f"{label} must have {k} values, got {s.shape}")
    return s


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
