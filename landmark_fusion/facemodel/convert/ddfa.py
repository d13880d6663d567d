"""3DDFA / 3DDFA_V2 model files: a folder with ``u_shp.npy``, ``u_exp.npy``, ``tri.mat`` (and the bases
``w_shp*.npy`` / ``w_exp*.npy`` when present), or a 3DDFA_V2 ``bfm_noneck_v3.pkl`` (pickle).

Layout (source: docs/model-formats.md §3.3; cleardusk/3DDFA ``utils/ddfa.py``,
``utils/params.py``): vectors are (3N, 1) float32, xyz interleaved, BFM units (µm); the mesh is
``u_shp + u_exp + w_shp α + w_exp β``; ``tri.mat`` key ``tri`` (3, T) uint16 **1-based**, clockwise
seen from the front; ``keypoints_sim.npy`` (204,) indices into the 3N vector (vertex = k[0::3] // 3).
Coefficient standard deviations: 3DDFA ships only the statistics of its 62-d training parameter
(``param_std.txt`` text, or the pickle ``param_whitening.pkl``): entries 12:52 for the 40 shape and
52:62 for the 10 expression coefficients. Pickles are read only with ``allow_pickle``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...safeload import load_npy
from ..model import FaceModel, FaceModelError
from .common import PAPER_NUM_EXP, PAPER_NUM_ID, component_count, load_pickle, points, scaled_basis, triangles_from

SHAPE_SLICE = slice(12, 52)  # 62-d parameter layout, cleardusk/3DDFA utils/ddfa.py
EXP_SLICE = slice(52, 62)
BASIS_NAMES = {"w_shp": ("w_shp.npy", "w_shp_sim.npy"), "w_exp": ("w_exp.npy", "w_exp_sim.npy")}
LICENCE_DDFA = "BFM-derived (3DDFA): non-commercial research use under the Basel Face Model licence"


def is_ddfa_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "u_shp.npy").exists()


def is_ddfa_input(path: Path) -> bool:
    """A 3DDFA folder, or its ``u_shp.npy`` (which names the folder around it)."""
    return path.name == "u_shp.npy" and path.is_file() or is_ddfa_folder(path)


def convert_ddfa(path: str | os.PathLike, allow_pickle: bool = False, num_id: int | None = None,
                 num_exp: int | None = None, name: str | None = None) -> FaceModel:
    """:func:`convert_ddfa_folder` of a 3DDFA folder or of the folder around its ``u_shp.npy``."""
    path = Path(path)
    return convert_ddfa_folder(path if path.is_dir() else path.parent, allow_pickle, num_id, num_exp,
                               name=name)


def _param_std(folder: Path, allow_pickle: bool) -> np.ndarray | None:
    txt = folder / "param_std.txt"
    if txt.exists():
        return np.loadtxt(txt, dtype=np.float64).reshape(-1)
    pkl = folder / "param_whitening.pkl"
    if pkl.exists():
        d = load_pickle(pkl, allow_pickle)
        return np.asarray(d["param_std"], dtype=np.float64).reshape(-1)
    return None


def keypoint_vertices(keypoints: np.ndarray) -> np.ndarray:
    """3N-vector keypoint indices (x, y, z of each point) → vertex ids."""
    k = np.asarray(keypoints, dtype=np.int64).reshape(-1)
    return k[0::3] // 3


def convert_ddfa_folder(folder: str | os.PathLike, allow_pickle: bool = False,
                        num_id: int | None = None, num_exp: int | None = None,
                        name: str | None = None) -> FaceModel:
    """A 3DDFA folder as a `FaceModel` (mean-only when the bases are not in it)."""
    folder = Path(folder)
    import scipy.io

    u = load_npy(folder / "u_shp.npy").astype(np.float64).reshape(-1)
    if (folder / "u_exp.npy").exists():
        u = u + load_npy(folder / "u_exp.npy").astype(np.float64).reshape(-1)
    bases = {}
    for key, names in BASIS_NAMES.items():
        found = [folder / nm for nm in names if (folder / nm).exists()]
        bases[key] = load_npy(found[0]) if found else None
    tri_path = folder / "tri.mat"
    if not tri_path.exists():
        raise FaceModelError(f"{folder}: no tri.mat")
    tri = scipy.io.loadmat(str(tri_path))["tri"]
    kp = load_npy(folder / "keypoints_sim.npy") if (folder / "keypoints_sim.npy").exists() else None
    std = _param_std(folder, allow_pickle) if any(b is not None for b in bases.values()) else None
    return _build(u, bases["w_shp"], bases["w_exp"], tri, True, kp, std, num_id, num_exp,
                  name or "bfm_3ddfa", {"source": str(folder), "source_format": "3DDFA folder"})


def convert_ddfa_pickle(path: str | os.PathLike, allow_pickle: bool = False,
                        num_id: int | None = None, num_exp: int | None = None,
                        name: str | None = None) -> FaceModel:
    """A 3DDFA_V2 ``bfm_noneck_v3.pkl``-style dict (``u``, ``w_shp``, ``w_exp``, ``tri``, ``keypoints``).

    Key names from cleardusk/3DDFA_V2 ``bfm/bfm.py`` [inferred layout: u/w interleaved (3N, ·),
    tri 0-based]; standard deviations from ``param_mean_std_62d_120x120.pkl`` beside it when allowed.
    """
    path = Path(path)
    d = load_pickle(path, allow_pickle)
    if not isinstance(d, dict) or "u" not in d or "tri" not in d:
        raise FaceModelError(f"{path}: not a 3DDFA_V2 model dict (needs 'u' and 'tri')")
    std = None
    stats = path.with_name("param_mean_std_62d_120x120.pkl")
    if stats.exists():
        std = np.asarray(load_pickle(stats, allow_pickle)["std"], dtype=np.float64).reshape(-1)
    tri = np.asarray(d["tri"])
    n = np.asarray(d["u"]).size // 3
    one_based = tri.min() == 1 and tri.max() == n
    return _build(np.asarray(d["u"], np.float64).reshape(-1), d.get("w_shp"), d.get("w_exp"), tri,
                  one_based, d.get("keypoints"), std, num_id, num_exp, name or path.stem,
                  {"source": str(path), "source_format": "3DDFA_V2 pickle"})


def _build(u: np.ndarray, w_shp: np.ndarray | None, w_exp: np.ndarray | None, tri: np.ndarray,
           one_based: bool, keypoints: np.ndarray | None, std: np.ndarray | None,
           num_id: int | None, num_exp: int | None, name: str, meta: dict) -> FaceModel:
    mean = points(u)
    n = len(mean)
    meta = dict(meta, licence=LICENCE_DDFA)
    comps = []
    for w, sl, paper, label in ((w_shp, SHAPE_SLICE, PAPER_NUM_ID, "id"), (w_exp, EXP_SLICE, PAPER_NUM_EXP, "exp")):
        if w is None:
            comps.append((np.zeros((0, n, 3)), np.zeros(0)))
            continue
        w = np.asarray(w)
        if w.shape[0] != 3 * n:
            raise FaceModelError(f"{meta['source']}: {label} basis has {w.shape[0]} rows, mean {3 * n}")
        if std is None:
            raise FaceModelError(f"{meta['source']}: the bases need param_std.txt (or the pickle "
                                 "param_whitening.pkl with --allow-pickle) for their scale")
        sd = std[sl]
        available = min(w.shape[1], sd.size)
        k = component_count(num_id if label == "id" else num_exp, available, paper)
        comps.append((scaled_basis(w, sd, k), sd[:k]))
        meta[f"{label}_components_available"] = int(available)
    tri, flipped = triangles_from(tri, n, one_based=one_based, mean=mean)
    meta["winding_flipped"] = flipped
    hints = {"ibug68_fixed": keypoint_vertices(keypoints)} if keypoints is not None else {}
    (id_basis, id_std), (exp_basis, exp_std) = comps
    return FaceModel(name, "um", mean, id_basis, id_std, exp_basis, exp_std, tri, "pca", None, hints, meta)
