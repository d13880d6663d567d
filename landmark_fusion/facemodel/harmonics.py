"""Manifold Harmonics of a model's mean face: the corrective-shape basis of the paper (§3.2).

``H`` holds the K lowest-frequency eigenvectors of the cotangent Laplace–Beltrami operator on the
mean face, solved as the generalised problem ``L φ = λ M φ`` (``L`` the cotangent stiffness
matrix, ``M`` the lumped barycentric mass matrix), so the columns are M-orthonormal
(``Hᵀ M H = I``) and the eigenvalues are in 1/length² of the model's units. The constant mode
(λ = 0, one per connected piece of the mesh) is a pure translation, which the pose already
has; it is skipped unless ``include_constant``. Results are cached per (mean, triangles, k).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .model import FaceModel

CACHE_ENV = "LANDMARK_FUSION_CACHE"
CACHE_VERSION = 1
READINGS = ("smoothness", "variance")


def cotangent_laplacian(vertices: np.ndarray, triangles: np.ndarray):
    """The cotangent stiffness matrix L (N×N, symmetric positive semi-definite, rows sum to 0).

    ``L_ij = −½ (cot α_ij + cot β_ij)`` for an edge ij with opposite angles α, β; ``L_ii = −Σ_j L_ij``.
    """
    import scipy.sparse as sp

    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    n = len(v)
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = t[:, (k + 1) % 3], t[:, (k + 2) % 3], t[:, k]  # edge ij, opposite corner o
        a, b = v[i] - v[o], v[j] - v[o]
        cross = np.linalg.norm(np.cross(a, b), axis=1)
        cot = np.einsum("ij,ij->i", a, b) / np.maximum(cross, 1e-12 * max(float(np.abs(v).max()), 1.0) ** 2)
        w = 0.5 * cot
        rows += [i, j]
        cols += [j, i]
        vals += [-w, -w]
    off = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    diag = -np.asarray(off.sum(axis=1)).reshape(-1)
    return (off + sp.diags(diag)).tocsc()


def lumped_mass(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Barycentric lumped mass: one third of the area of each incident triangle, per vertex → (N,)."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    area = 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)
    m = np.zeros(len(v))
    for c in range(3):
        np.add.at(m, t[:, c], area / 3.0)
    return m


def solve_harmonics(vertices: np.ndarray, triangles: np.ndarray, k: int = 20,
                    include_constant: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues (k,), H (N, k)) of ``L φ = λ M φ``, lowest first, ``Hᵀ M H = I``.

    Vertices no triangle uses get zero rows in H. Solved with ``eigsh`` in shift-invert mode around
    a slightly negative shift (L is singular, so the shift must not be 0).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import eigsh

    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    used = np.unique(t)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    vu, tu = v[used], remap[t]
    lap = cotangent_laplacian(vu, tu)
    mass = lumped_mass(vu, tu)
    adjacency = sp.coo_matrix((np.ones(3 * len(tu)), (tu.reshape(-1), np.roll(tu, 1, axis=1).reshape(-1))),
                              shape=(len(vu), len(vu)))
    n_const = connected_components(adjacency, directed=False)[0]
    skip = 0 if include_constant else n_const
    want = k + skip
    if want >= len(vu):
        raise ValueError(f"asked for {k} harmonics (+{skip} constant) of a mesh with {len(vu)} vertices")
    scale = float(mass.sum()) / len(vu)  # typical vertex area: makes the shift scale-free
    sigma = -1e-6 / scale if scale > 0 else -1e-8
    vals, vecs = eigsh(lap, k=want, M=sp.diags(mass).tocsc(), sigma=sigma, which="LM")
    order = np.argsort(vals)
    vals, vecs = vals[order][skip:], vecs[:, order][:, skip:]
    vals = np.maximum(vals, 0.0)
    # eigsh returns M-orthonormal vectors up to round-off; re-normalise and fix the sign
    vecs /= np.sqrt(np.einsum("ik,i,ik->k", vecs, mass, vecs))
    vecs *= np.where(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])] < 0, -1.0, 1.0)
    H = np.zeros((len(v), vecs.shape[1]))
    H[used] = vecs
    return vals, H


def cache_dir() -> Path:
    """``$LANDMARK_FUSION_CACHE/harmonics`` or ``~/.cache/landmark_fusion/harmonics``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "landmark_fusion"
    return base / "harmonics"


def cache_key(vertices: np.ndarray, triangles: np.ndarray, k: int, include_constant: bool) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(triangles, dtype=np.int64).tobytes())
    h.update(f"k={k};const={include_constant};v={CACHE_VERSION}".encode())
    return h.hexdigest()[:32]


def manifold_harmonics(model: FaceModel, k: int = 20, include_constant: bool = False,
                       use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues (k,), H (N, k)) on ``model.mean``, cached on disk by a hash of mean + triangles.

    Eigenvalues are in 1/(model unit)²; H is M-orthonormal in model units (see `correction_basis`
    for the basis the decoder uses).
    """
    path = cache_dir() / f"{cache_key(model.mean, model.triangles, k, include_constant)}.npz"
    if use_cache and path.exists():
        try:
            with np.load(path, allow_pickle=False) as d:
                return d["eigenvalues"], d["H"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: recompute and overwrite
    vals, H = solve_harmonics(model.mean, model.triangles, k, include_constant)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
            np.savez(tmp, eigenvalues=vals, H=H)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
    return vals, H


def correction_basis(model: FaceModel, k: int = 20, include_constant: bool = False,
                     rms_mm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """E_c = [H_1 ⊗ I3, …, H_K ⊗ I3] as a (3K, N, 3) basis in model units, with the eigenvalues.

    Row ``3k + d`` moves every vertex along axis d by ``H_k`` times a scale chosen so that one unit
    of coefficient moves the vertices by ``rms_mm`` millimetres area-weighted RMS: since
    ``Σ m_i H_ik² = 1``, the scale is ``sqrt(total area) · rms_mm / mm_per_unit``.
    """
    vals, H = manifold_harmonics(model, k, include_constant)
    area = lumped_mass(model.mean, model.triangles).sum()
    s = np.sqrt(area) * rms_mm / model.mm_per_unit
    E = np.zeros((3 * H.shape[1], model.num_vertices, 3), dtype=np.float32)
    for d in range(3):
        E[d::3, :, d] = (H * s).T
    return E, vals


def correction_weights(eigenvalues: np.ndarray, reading: str = "smoothness",
                       normalise: bool = True) -> np.ndarray:
    """Per-coefficient regulariser weights W_c (diagonal, length 3K: each value repeated for x, y, z).

    ``smoothness`` (default): W_c = diag(λ_k) — the Dirichlet energy ∫|∇S_c|² of the correction,
    which penalises high frequencies more. ``variance``: W_c = diag(λ_k)⁻¹, reading the paper's
    "eigenvalues … δ²" as variances like the PCA terms. ``normalise`` divides by the value of the
    first (lowest) mode so the weights are unit-free and the first mode weighs 1.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    if np.any(lam <= 0):
        raise ValueError("eigenvalues must be positive (skip the constant mode)")
    w = lam if reading == "smoothness" else 1.0 / lam
    if normalise:
        w = w / w[0]
    return np.repeat(w, 3)
