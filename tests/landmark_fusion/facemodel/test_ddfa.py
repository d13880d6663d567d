"""3DDFA files: the real mean/triangles/keypoints in ../shared, bases on files written here, pickles."""
import pickle
import shutil

import numpy as np
import pytest
import scipy.io

from landmark_fusion.facemodel import PickleRefusedError, load_model
from landmark_fusion.facemodel.convert.ddfa import convert_ddfa_folder

from .conftest import bump_grid


@pytest.fixture(scope="module")
def ddfa_dir(models_dir):
    return models_dir / "bfm-3ddfa" / "3DDFA"


def test_real_3ddfa_mean_and_triangles(ddfa_dir):
    m = load_model(ddfa_dir)
    u = (np.load(ddfa_dir / "u_shp.npy") + np.load(ddfa_dir / "u_exp.npy")).reshape(-1, 3)
    tri = scipy.io.loadmat(ddfa_dir / "tri.mat")["tri"].astype(np.int64)
    assert (m.num_vertices, len(m.triangles), m.num_id, m.num_exp, m.units) == (53215, 105840, 0, 0, "um")
    np.testing.assert_allclose(m.mean, u, rtol=1e-6)
    np.testing.assert_array_equal(m.triangles, (tri.T - 1)[:, [0, 2, 1]])  # 1-based CW → 0-based CCW
    assert m.metadata["winding_flipped"] is True
    kp = np.load(ddfa_dir / "keypoints_sim.npy")
    np.testing.assert_array_equal(m.landmarks_hint["ibug68_fixed"], kp[0::3] // 3)


def _write_ddfa_folder(folder, allow_text_std=True):
    v, t = bump_grid(8, 5, scale=9e4)
    n = len(v)
    rng = np.random.default_rng(8)
    np.save(folder / "u_shp.npy", v.reshape(-1, 1).astype(np.float32))
    np.save(folder / "u_exp.npy", (rng.normal(size=(3 * n, 1)) * 100).astype(np.float32))
    np.save(folder / "w_shp_sim.npy", rng.normal(size=(3 * n, 40)).astype(np.float32) * 0.05)
    np.save(folder / "w_exp_sim.npy", rng.normal(size=(3 * n, 10)).astype(np.float32) * 1e4)
    scipy.io.savemat(folder / "tri.mat", {"tri": (t[:, [0, 2, 1]].T + 1).astype(np.uint16)})
    std = np.concatenate([np.ones(12), np.linspace(5.9e5, 1e4, 40), np.linspace(1.5, 0.15, 10)])
    if allow_text_std:
        np.savetxt(folder / "param_std.txt", std)
    else:
        with open(folder / "param_whitening.pkl", "wb") as fh:
            pickle.dump({"param_mean": np.zeros(62, np.float32), "param_std": std.astype(np.float32)}, fh)
    return v, t, std


def test_fixture_folder_with_bases_decodes_3ddfa_formula(tmp_path):
    v, t, std = _write_ddfa_folder(tmp_path)
    m = convert_ddfa_folder(tmp_path)
    assert (m.num_id, m.num_exp) == (40, 10)
    a, b = np.linspace(-1, 1, 40), np.linspace(1, -1, 10)
    u = np.load(tmp_path / "u_shp.npy")[:, 0] + np.load(tmp_path / "u_exp.npy")[:, 0]
    expect = u + np.load(tmp_path / "w_shp_sim.npy") @ (a * std[12:52]) \
        + np.load(tmp_path / "w_exp_sim.npy") @ (b * std[52:62])
    # 3DDFA reshapes with order='F' over (3, N): the same as xyz-interleaved rows
    np.testing.assert_allclose(m.decode(a, b), expect.reshape(3, -1, order="F").T, rtol=1e-4, atol=1.0)
    np.testing.assert_array_equal(m.triangles, t)


def test_pickle_is_refused_without_permission(tmp_path, ddfa_dir):
    _write_ddfa_folder(tmp_path, allow_text_std=False)
    with pytest.raises(PickleRefusedError, match="--allow-pickle"):
        load_model(tmp_path)
    m = load_model(tmp_path, allow_pickle=True)
    assert m.num_id == 40
    shutil.copy(ddfa_dir / "param_whitening.pkl", tmp_path / "real.pkl")
    with pytest.raises(PickleRefusedError):
        load_model(tmp_path / "real.pkl")


def test_3ddfa_v2_style_pickle_with_permission(tmp_path):
    v, t = bump_grid(6, 4, scale=9e4)
    rng = np.random.default_rng(9)
    d = {"u": v.reshape(-1, 1).astype(np.float32), "w_shp": rng.normal(size=(v.size, 40)).astype(np.float32),
         "w_exp": rng.normal(size=(v.size, 10)).astype(np.float32), "tri": t[:, [0, 2, 1]].T.astype(np.int32),
         "keypoints": np.arange(6)}
    with open(tmp_path / "bfm_noneck_v3.pkl", "wb") as fh:
        pickle.dump(d, fh)
    with open(tmp_path / "param_mean_std_62d_120x120.pkl", "wb") as fh:
        pickle.dump({"mean": np.zeros(62), "std": np.ones(62)}, fh)
    with pytest.raises(PickleRefusedError):
        load_model(tmp_path / "bfm_noneck_v3.pkl")
    m = load_model(tmp_path / "bfm_noneck_v3.pkl", allow_pickle=True)
    assert (m.num_vertices, m.num_id, m.num_exp) == (len(v), 40, 10)
    np.testing.assert_array_equal(m.triangles, t)
    np.testing.assert_array_equal(m.landmarks_hint["ibug68_fixed"], [0, 1])
