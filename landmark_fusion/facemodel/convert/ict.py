"""ICT-FaceKit "Face Model Light": the ``FaceXModel/`` folder of OBJs, or the converted face-region npz.

Folder layout (source: docs/model-formats.md §3.5, ICT-FaceKit README): ``generic_neutral_mesh.obj``,
``identity000.obj`` … ``identity099.obj``, one OBJ per expression named in ``vertex_indices.json``
(``"expressions"``), all with the same 26,719 vertices in centimetres (y up, +z towards the viewer,
subject's right at −x). Every OBJ is a full shape: a mode is ``obj − neutral`` (ICT
``face_model_io.py``), and identity weights are drawn from N(0, 1), so the PCA standard deviation is
already folded into each identity mode. The face region is vertices 0..9408 and polygons 0..9229
(ICT README, "Face Model Topology", row "#0 Face"); quads are fan-split (a,b,c),(a,c,d).

A partial folder (some identities or expressions missing) converts with what is there; the counts
are recorded in the metadata.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ...safeload import open_npz
from ..model import FaceModel, FaceModelError
from .common import PAPER_NUM_ID, component_count, triangles_from

NEUTRAL_OBJ = "generic_neutral_mesh.obj"
INDEX_JSON = "vertex_indices.json"
FACE_VERTICES = 9409  # ICT README "Face Model Topology", #0 Face: vertices 0..9408
FACE_POLYGONS = 9230  # polygons 0..9229
NARROW_VERTICES = 6706  # "Narrow face area": vertices 0..6705
NARROW_POLYGONS = 6560  # polygons 0..6559
REGIONS = {"face": (FACE_VERTICES, FACE_POLYGONS), "narrow": (NARROW_VERTICES, NARROW_POLYGONS)}
LICENCE_ICT = "ICT-FaceKit Light: MIT, Copyright (c) 2020 USC Institute for Creative Technologies"
_IDENTITY = re.compile(r"identity(\d{3})\.obj$")


def is_ict_folder(path: Path) -> bool:
    """Whether a folder is a ``FaceXModel/`` folder (it holds the neutral mesh)."""
    return (Path(path) / NEUTRAL_OBJ).exists()


def read_obj_vertices(path: str | os.PathLike) -> np.ndarray:
    """The ``v x y z`` lines of an OBJ → (N, 3) float32."""
    lines = [ln[2:] for ln in Path(path).read_bytes().splitlines() if ln.startswith(b"v ")]
    if not lines:
        raise FaceModelError(f"{path}: no vertex lines")
    try:
        v = np.array(b" ".join(lines).split(), dtype=np.float64)
    except ValueError as exc:
        raise FaceModelError(f"{path}: unreadable vertex line ({exc})") from exc
    if v.size != 3 * len(lines):
        raise FaceModelError(f"{path}: vertex lines do not all have 3 coordinates")
    return v.reshape(-1, 3).astype(np.float32)


def read_obj_polygons(path: str | os.PathLike) -> list[list[int]]:
    """The ``f`` lines of an OBJ as 0-based vertex index lists (``v/vt/vn`` forms accepted)."""
    faces = []
    for ln in Path(path).read_bytes().splitlines():
        if ln.startswith(b"f "):
            faces.append([int(tok.split(b"/")[0]) - 1 for tok in ln.split()[1:]])
    return faces


def fan_triangles(polygons: list[list[int]]) -> np.ndarray:
    """Fan-split polygons (a,b,c,d,…) into (a,b,c),(a,c,d),… keeping their winding → (T, 3)."""
    tris = [(p[0], p[i], p[i + 1]) for p in polygons for i in range(1, len(p) - 1)]
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def convert_ict_folder(folder: str | os.PathLike, region: str = "face", num_id: int | None = None,
                       num_exp: int | None = None, name: str | None = None) -> FaceModel:
    """An ICT-FaceKit ``FaceXModel/`` folder (complete or partial) as a `FaceModel`.

    ``region``: ``face`` (9,409 vertices, the default), ``narrow`` (6,706) or ``full`` (26,719).
    """
    folder = Path(folder)
    neutral_path = folder / NEUTRAL_OBJ
    if not neutral_path.exists():
        raise FaceModelError(f"{folder}: no {NEUTRAL_OBJ}")
    neutral = read_obj_vertices(neutral_path)
    polygons = read_obj_polygons(neutral_path)
    if region == "full":
        n_keep, polys = len(neutral), polygons
    elif region in REGIONS:
        n_keep, n_poly = REGIONS[region]
        polys = polygons[:n_poly]
        if len(neutral) < n_keep or any(max(p) >= n_keep for p in polys):
            raise FaceModelError(f"{neutral_path}: does not have ICT's {region} region layout")
    else:
        raise FaceModelError(f"unknown ICT region {region!r}; use face, narrow or full")
    index = json.loads((folder / INDEX_JSON).read_text()) if (folder / INDEX_JSON).exists() else {}
    exp_list = list(index.get("expressions", []))

    def delta(p: Path) -> np.ndarray:
        v = read_obj_vertices(p)
        if v.shape != neutral.shape:
            raise FaceModelError(f"{p}: {len(v)} vertices, the neutral mesh {len(neutral)}")
        return (v - neutral)[:n_keep]

    id_files = sorted((p for p in folder.iterdir() if _IDENTITY.search(p.name)), key=lambda p: p.name)
    k = component_count(num_id, len(id_files), PAPER_NUM_ID)
    exp_files = [(nm, folder / f"{nm}.obj") for nm in exp_list if (folder / f"{nm}.obj").exists()]
    e = component_count(num_exp, len(exp_files), len(exp_files))
    mean = neutral[:n_keep]
    id_basis = np.stack([delta(p) for p in id_files[:k]]) if k else np.zeros((0, n_keep, 3))
    exp_basis = np.stack([delta(p) for _, p in exp_files[:e]]) if e else np.zeros((0, n_keep, 3))
    tri, flipped = triangles_from(fan_triangles(polys), n_keep, one_based=False, mean=mean)
    hints = {}
    if "idx_to_landmark_verts" in index:
        lm = np.asarray(index["idx_to_landmark_verts"], dtype=np.int64)
        hints["ibug68"] = np.where(lm < n_keep, lm, -1)
    meta = {"source": str(folder), "source_format": "ICT-FaceKit FaceXModel folder", "region": region,
            "licence": LICENCE_ICT, "identity_objs_found": len(id_files),
            "identities": [p.stem for p in id_files[:k]],
            "expressions_listed": len(exp_list), "expression_objs_found": len(exp_files),
            "expressions_missing": [nm for nm in exp_list if not (folder / f"{nm}.obj").exists()],
            "winding_flipped": flipped,
            "id_std_meaning": "ICT identity weights are N(0,1): the std is folded into each mode"}
    return FaceModel(name or f"ict_facekit_{region}", "cm", mean, id_basis, np.ones(k), exp_basis,
                     np.ones(e), tri, "blendshapes", [nm for nm, _ in exp_files[:e]], hints, meta)


ICT_NPZ_KEYS = ("mean", "id_basis", "exp_basis", "exp_names", "triangles", "id_full_mesh_norms")


def is_ict_npz(npz) -> bool:
    """True for an opened npz with the keys of the compact ICT npz (docs/model-formats.md §3.6)."""
    return all(k in npz.files for k in ICT_NPZ_KEYS)


def is_ict_npz_file(path: str | os.PathLike) -> bool:
    """Whether an ``.npz`` file is the compact ICT npz."""
    with open_npz(path) as npz:
        return is_ict_npz(npz)


def convert_ict_npz(path: str | os.PathLike, num_id: int | None = None, num_exp: int | None = None,
                    name: str | None = None, narrow: bool = False) -> FaceModel:
    """The compact face-region npz (docs/model-formats.md §3.6) as a `FaceModel` (float16 → float32)."""
    path = Path(path)
    with open_npz(path) as d:
        if not is_ict_npz(d):
            raise FaceModelError(f"{path}: missing ICT npz keys {[k for k in ICT_NPZ_KEYS if k not in d.files]}")
        a = {key: d[key] for key in d.files}
    k = component_count(num_id, a["id_basis"].shape[0], PAPER_NUM_ID)
    e = component_count(num_exp, a["exp_basis"].shape[0], a["exp_basis"].shape[0])
    mean, tri = a["mean"], a["triangles"]
    hints = {"ibug68": a["landmarks_68"]} if "landmarks_68" in a else {}
    for key in ("jaw_right_substitute_0to7", "jaw_left_substitute_9to16", "jaw_right_extended",
                "jaw_left_extended", "rigid_vertices"):
        if key in a:
            hints[key] = a[key]
    meta = {"source": str(path), "source_format": "ICT-FaceKit face-region npz", "licence": LICENCE_ICT,
            "id_full_mesh_norms": a["id_full_mesh_norms"][:k].tolist(),
            "id_std_meaning": "ICT identity weights are N(0,1): the std is folded into each mode; "
                              "id_full_mesh_norms is each mode's PCA std on the full mesh (cm)"}
    tri, flipped = triangles_from(tri, len(mean), one_based=False, mean=mean)
    meta["winding_flipped"] = flipped
    model = FaceModel(name or path.stem, "cm", mean, a["id_basis"][:k].astype(np.float32), np.ones(k),
                      a["exp_basis"][:e].astype(np.float32), np.ones(e), tri, "blendshapes",
                      [str(s) for s in a["exp_names"][:e]], hints, meta)
    if narrow:
        model = model.subset(np.arange(int(a["n_narrow_vertices"])))
    return model
