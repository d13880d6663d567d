"""Manifold Harmonics: known spectra (sphere, flat square), M-orthonormality, smoothness on SFM, cache."""
import numpy as np
import pytest
import trimesh

from landmark_fusion.facemodel import load_model
from landmark_fusion.facemodel.harmonics import (
    correction_basis,
    correction_weights,
    cotangent_laplacian,
    lumped_mass,
    manifold_harmonics,
    solve_harmonics,
)
from landmark_fusion.facemodel.model import FaceModel

from .conftest import bump_grid


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARK_FUSION_CACHE", str(tmp_path / "cache"))


def test_sphere_spectrum_l_l_plus_1_over_r2():
    r = 2.0
    s = trimesh.creation.icosphere(subdivisions=3, radius=r)
    vals, H = solve_harmonics(s.vertices, s.faces, k=16, include_constant=True)
    assert abs(vals[0]) < 1e-8
    expect = np.array([0] + [2] * 3 + [6] * 5 + [12] * 7) / r ** 2
    np.testing.assert_allclose(vals[1:], expect[1:], rtol=0.02)
    m = lumped_mass(s.vertices, s.faces)
    np.testing.assert_allclose(H.T @ (m[:, None] * H), np.eye(16), atol=1e-8)
    np.testing.assert_allclose(H[:, 0], 1 / np.sqrt(m.sum()), rtol=1e-6)  # the constant mode


def test_flat_square_neumann_spectrum():
    v, t = bump_grid(31, 31)
    v[:, 2] = 0
    v[:, :2] = (v[:, :2] + 1) / 2  # unit square
    vals, _ = solve_harmonics(v, t, k=5)  # constant skipped
    np.testing.assert_allclose(vals, np.pi ** 2 * np.array([1, 1, 2, 4, 4]), rtol=0.03)


def test_laplacian_rows_sum_to_zero_and_symmetric():
    v, t = bump_grid()
    lap = cotangent_laplacian(v, t)
    np.testing.assert_allclose(np.asarray(lap.sum(axis=1)).ravel(), 0, atol=1e-10)
    assert abs(lap - lap.T).max() < 1e-12


def test_sfm_harmonics_are_smooth_and_cached(models_dir, tmp_path):
    sfm = load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin")
    vals, H = manifold_harmonics(sfm, k=20)
    assert H.shape == (3448, 20) and np.all(np.diff(vals) >= 0) and vals[0] > 0
    m = lumped_mass(sfm.mean, sfm.triangles)
    np.testing.assert_allclose(H.T @ (m[:, None] * H), np.eye(20), atol=1e-6)
    # smooth: Dirichlet energy of each column equals its eigenvalue, and it is far below that of noise
    lap = cotangent_laplacian(sfm.mean, sfm.triangles)
    energy = np.einsum("ik,ik->k", H, lap @ H)
    np.testing.assert_allclose(energy, vals, rtol=1e-5)
    noise = np.random.default_rng(0).normal(size=3448)
    noise /= np.sqrt((m * noise ** 2).sum())
    assert vals[-1] < 0.05 * (noise @ (lap @ noise))  # measured ratio ≈ 1/83
    files = list((tmp_path / "cache" / "harmonics").glob("*.npz"))
    assert len(files) == 1
    vals2, H2 = manifold_harmonics(sfm, k=20)
    np.testing.assert_array_equal(H2, H)


def test_correction_basis_moves_one_mm_rms():
    v, t = bump_grid(20, 15, scale=5.0)  # model in cm
    model = FaceModel("grid", "cm", v, [], [], [], [], t)
    E, vals = correction_basis(model, k=4)
    assert E.shape == (12, len(v), 3)
    m = lumped_mass(v, t)
    for row in range(12):
        disp = np.linalg.norm(E[row], axis=1) * model.mm_per_unit
        assert np.sqrt((m * disp ** 2).sum() / m.sum()) == pytest.approx(1.0, rel=1e-4)
    assert np.all(E[0][:, 1:] == 0) and np.all(E[1][:, [0, 2]] == 0)


def test_correction_weights_readings():
    lam = np.array([2.0, 4.0, 8.0])
    np.testing.assert_allclose(correction_weights(lam), np.repeat([1, 2, 4], 3))
    np.testing.assert_allclose(correction_weights(lam, "variance"), np.repeat([1, 0.5, 0.25], 3))
    np.testing.assert_allclose(correction_weights(lam, normalise=False), np.repeat(lam, 3))
    with pytest.raises(ValueError):
        correction_weights(np.array([0.0, 1.0]))
