"""Basel Face Model readers: BFM2009 ``01_MorphableModel.mat`` (+ an expression basis) and BFM2017 ``.h5``.

BFM2009 keys (source: docs/model-formats.md §1; eos ``convert-bfm2009-to-eos.py``; face3d/Tran scripts):
``shapeMU`` (3N,1) µm, xyz interleaved; ``shapePC`` (3N,199) unit-norm columns; ``shapeEV`` (199,1)
**standard deviations**; ``tl`` (T,3) **1-based**, clockwise seen from the front; ``texMU/texPC/texEV``
(colour, not used). N = 53,490.

Expression bases (both live on the 53,215-vertex 3DDFA trim of BFM2009, so BFM2009 is cut to that
set through ``trimIndex`` — the 1-based BFM2009 id of each kept vertex — from face3d ``BFM_info.mat``
(``model_info.trimIndex``) or Deep3DFaceRecon ``BFM_exp_idx.mat`` (``trimIndex``)):
- 3DDFA ``Model_Expression.mat``: ``mu_exp`` (3M,1) mean expression offset, ``w_exp`` (3M,29),
  ``sigma_exp`` (29,1) coefficient standard deviations, BFM units (source: docs/model-formats.md §1 and Tran
  ``trimBaselFace.py``, which adds ``mu_exp`` to the mean and divides both by 1000 for mm).
- Guo et al. ``Exp_Pca.bin``: int32 K, then 3M float32 (an expression mean, which
  Deep3DFaceRecon ``util/load_mats.py`` does not use, so neither do we), then K × 3M float32, one
  component after the other; the K standard deviations come from ``std_exp.txt`` (source:
  Deep3DFaceRecon ``util/load_mats.py``, ``LoadExpBasis``).

BFM2017 ``.h5`` groups (source: eos ``convert-bfm2017-to-eos.py``): ``shape/model/{mean (3N,),
pcaBasis (3N,K) orthonormal, pcaVariance (K,) variances}``, ``shape/representer/cells`` (3,T)
0-based, ``expression/model/{mean,pcaBasis,pcaVariance}`` on the same vertices. Units: mm.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..model import FaceModel, FaceModelError
from .common import PAPER_NUM_EXP, PAPER_NUM_ID, component_count, points, scaled_basis, triangles_from

BFM2009_KEYS = ("shapeMU", "shapePC", "shapeEV", "tl")
LICENCE_BFM = "Basel Face Model: non-commercial research licence (registration at the University of Basel)"


def is_bfm2009_mat(path: str | os.PathLike) -> bool:
    """Whether a ``.mat`` holds BFM2009's shape keys (read from its header, no arrays loaded)."""
    import scipy.io

    keys = {name for name, _, _ in scipy.io.whosmat(str(path))}
    return set(BFM2009_KEYS) <= keys


def _loadmat(path: str | os.PathLike) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError as exc:  # MATLAB v7.3 = HDF5
        raise FaceModelError(f"{path}: MATLAB v7.3 file; save it as -v7 or earlier") from exc


def _require(d: dict, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise FaceModelError(f"{path}: missing keys {missing}")


def read_trim_index(path: str | os.PathLike) -> np.ndarray:
    """0-based BFM2009 vertex ids of the 53,215-vertex trim, from ``BFM_exp_idx.mat`` or ``BFM_info.mat``."""
    d = _loadmat(path)
    if "trimIndex" in d:
        t = d["trimIndex"]
    elif "model_info" in d:
        t = d["model_info"][0, 0]["trimIndex"]
    else:
        raise FaceModelError(f"{path}: no 'trimIndex' (nor model_info.trimIndex)")
    return np.asarray(t).astype(np.int64).reshape(-1) - 1


def read_model_expression(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3DDFA ``Model_Expression.mat`` → (mu_exp (3M,), w_exp (3M,K), sigma_exp (K,))."""
    d = _loadmat(path)
    _require(d, ("mu_exp", "w_exp", "sigma_exp"), path)
    return (np.asarray(d["mu_exp"], np.float64).reshape(-1), np.asarray(d["w_exp"]),
            np.asarray(d["sigma_exp"], np.float64).reshape(-1))


def read_exp_pca_bin(path: str | os.PathLike, std_path: str | os.PathLike | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guo et al. ``Exp_Pca.bin`` (+ ``std_exp.txt``) → (mean (3M,), basis (3M,K), std (K,))."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise FaceModelError(f"{path}: too short for an Exp_Pca.bin")
    k = int(np.frombuffer(raw, "<i4", 1)[0])
    floats = (len(raw) - 4) // 4
    if k <= 0 or (len(raw) - 4) % 4 or floats % (3 * (k + 1)):
        raise FaceModelError(f"{path}: {len(raw)} bytes do not fit int32 K={k} + (K+1)·3M float32")
    m3 = floats // (k + 1)
    data = np.frombuffer(raw, "<f4", floats, 4)
    mean, basis = data[:m3], data[m3:].reshape(k, m3).T
    std_path = Path(std_path) if std_path is not None else path.with_name("std_exp.txt")
    if not std_path.exists():
        raise FaceModelError(f"{path}: needs the standard deviations file {std_path} (std_exp.txt)")
    std = np.loadtxt(std_path, dtype=np.float64).reshape(-1)
    if std.size != k:
        raise FaceModelError(f"{std_path}: {std.size} standard deviations for {k} components")
    return mean, basis, std


def convert_bfm2009(path: str | os.PathLike, expression: str | os.PathLike | None = None,
                    trim_index: str | os.PathLike | np.ndarray | None = None,
                    exp_std: str | os.PathLike | None = None, num_id: int | None = None,
                    num_exp: int | None = None, name: str | None = None) -> FaceModel:
    """BFM2009 identity + optional expression (``Model_Expression.mat`` or ``Exp_Pca.bin``)."""
    path = Path(path)
    d = _loadmat(path)
    _require(d, BFM2009_KEYS, path)
    mean_flat = np.asarray(d["shapeMU"], np.float64).reshape(-1)
    n_full = mean_flat.size // 3
    pc, ev = np.asarray(d["shapePC"]), np.asarray(d["shapeEV"], np.float64).reshape(-1)
    tri = np.asarray(d["tl"]).astype(np.int64) - 1
    meta = {"source": str(path), "source_format": "BFM2009 01_MorphableModel.mat", "licence": LICENCE_BFM,
            "id_components_available": int(pc.shape[1])}
    exp_mean = exp_pc = exp_sd = None
    if expression is not None:
        expression = Path(expression)
        if expression.suffix.lower() == ".bin":
            _, exp_pc, exp_sd = read_exp_pca_bin(expression, exp_std)
            meta["expression_format"] = "Guo et al. Exp_Pca.bin (mean not used)"
        else:
            exp_mean, exp_pc, exp_sd = read_model_expression(expression)
            meta["expression_format"] = "3DDFA Model_Expression.mat"
        meta["expression_source"] = str(expression)
        meta["exp_components_available"] = int(exp_pc.shape[1])
    keep = None
    if exp_pc is not None and exp_pc.shape[0] // 3 != n_full:
        if trim_index is None:
            raise FaceModelError(
                f"{expression}: the expression basis has {exp_pc.shape[0] // 3} vertices, BFM2009 "
                f"{n_full}; give the trim index (BFM_exp_idx.mat or BFM_info.mat)")
        keep = trim_index if isinstance(trim_index, np.ndarray) else read_trim_index(trim_index)
        if len(keep) != exp_pc.shape[0] // 3 or keep.min() < 0 or keep.max() >= n_full:
            raise FaceModelError(f"trim index of {len(keep)} vertices does not fit the expression basis")
    elif trim_index is not None:
        keep = trim_index if isinstance(trim_index, np.ndarray) else read_trim_index(trim_index)
    if keep is not None:
        rows = (3 * keep[:, None] + np.arange(3)).reshape(-1)
        mean_flat, pc = mean_flat[rows], pc[rows]
        remap = np.full(n_full, -1, np.int64)
        remap[keep] = np.arange(len(keep))
        tri = remap[tri]
        tri = tri[(tri >= 0).all(axis=1)]
        meta["trimmed_from"] = n_full
    if exp_mean is not None:
        mean_flat = mean_flat + exp_mean
    mean = points(mean_flat)
    k = component_count(num_id, pc.shape[1], PAPER_NUM_ID)
    id_basis = scaled_basis(pc, ev, k)
    if exp_pc is not None and exp_sd is not None:
        e = component_count(num_exp, exp_pc.shape[1], PAPER_NUM_EXP)
        exp_basis, exp_sd = scaled_basis(exp_pc, exp_sd, e), exp_sd[:e]
    else:
        exp_basis, exp_sd = np.zeros((0, len(mean), 3)), np.zeros(0)
    tri, flipped = triangles_from(tri, len(mean), one_based=False, mean=mean)
    meta["winding_flipped"] = flipped
    return FaceModel(name or "bfm2009", "um", mean, id_basis, ev[:k], exp_basis, exp_sd, tri,
                     "pca", None, {}, meta)


def convert_bfm2017(path: str | os.PathLike, num_id: int | None = None, num_exp: int | None = None,
                    name: str | None = None, units: str = "mm") -> FaceModel:
    """BFM2017 / BFM2019 statismo ``.h5`` (shape + expression PCA) as a `FaceModel`."""
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as f:
        for key in ("shape/model/mean", "shape/model/pcaBasis", "shape/model/pcaVariance",
                    "shape/representer/cells"):
            if key not in f:
                raise FaceModelError(f"{path}: missing dataset {key}")
        mean_flat = np.asarray(f["shape/model/mean"], np.float64).reshape(-1)
        basis = np.asarray(f["shape/model/pcaBasis"])
        var = np.asarray(f["shape/model/pcaVariance"], np.float64).reshape(-1)
        cells = np.asarray(f["shape/representer/cells"])
        has_exp = "expression/model/pcaBasis" in f
        if has_exp:
            exp_mean = np.asarray(f["expression/model/mean"], np.float64).reshape(-1)
            exp_b = np.asarray(f["expression/model/pcaBasis"])
            exp_var = np.asarray(f["expression/model/pcaVariance"], np.float64).reshape(-1)
    n = mean_flat.size // 3
    meta = {"source": str(path), "source_format": "BFM2017 statismo h5", "licence": LICENCE_BFM,
            "id_components_available": int(basis.shape[1])}
    if has_exp:
        if exp_mean.size != mean_flat.size:
            raise FaceModelError(f"{path}: expression model has {exp_mean.size // 3} vertices, shape {n}")
        mean_flat = mean_flat + exp_mean
        meta["exp_components_available"] = int(exp_b.shape[1])
    mean = points(mean_flat)
    k = component_count(num_id, basis.shape[1], PAPER_NUM_ID)
    id_std = np.sqrt(var[:k])
    if has_exp:
        e = component_count(num_exp, exp_b.shape[1], PAPER_NUM_EXP)
        exp_std = np.sqrt(exp_var[:e])
        exp_basis = scaled_basis(exp_b, exp_std, e)
    else:
        exp_basis, exp_std = np.zeros((0, n, 3)), np.zeros(0)
    tri, flipped = triangles_from(cells, n, one_based=False, mean=mean)
    meta["winding_flipped"] = flipped
    return FaceModel(name or path.stem, units, mean, scaled_basis(basis, id_std, k), id_std,
                     exp_basis, exp_std, tri, "pca", None, {}, meta)
