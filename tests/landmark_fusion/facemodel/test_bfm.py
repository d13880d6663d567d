"""BFM readers on small files written here in BFM's exact key layouts (the real files need registration)."""
import h5py
import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_fusion.facemodel import FaceModelError, load_model
from landmark_fusion.facemodel.convert.bfm import convert_bfm2009

from .conftest import bump_grid

N_FULL, K_ID = 50, 199
KEEP = np.array([i for i in range(N_FULL) if i % 5 != 4])  # 40 kept vertices, like the 53490→53215 trim


def _bfm2009_arrays(seed=0):
    rng = np.random.default_rng(seed)
    v, t = bump_grid(10, 5, scale=9e4)  # BFM units (µm)
    pc = rng.normal(size=(3 * N_FULL, K_ID))
    pc /= np.linalg.norm(pc, axis=0)
    return {
        "shapeMU": v.reshape(-1, 1).astype(np.float32),
        "shapePC": pc.astype(np.float32),
        "shapeEV": np.linspace(9e4, 1e3, K_ID).reshape(-1, 1).astype(np.float32),
        "tl": (t[:, [0, 2, 1]] + 1).astype(np.float64),  # 1-based, clockwise like BFM2009
        "texMU": rng.uniform(0, 255, (3 * N_FULL, 1)).astype(np.float32),
        "texPC": rng.normal(size=(3 * N_FULL, K_ID)).astype(np.float32),
        "texEV": np.ones((K_ID, 1), np.float32),
    }, t


@pytest.fixture
def bfm2009(tmp_path):
    d, t = _bfm2009_arrays()
    path = tmp_path / "01_MorphableModel.mat"
    scipy.io.savemat(path, d)
    return path, d, t


@pytest.fixture
def model_expression(tmp_path):
    rng = np.random.default_rng(1)
    m3 = 3 * len(KEEP)
    d = {"mu_exp": rng.normal(size=(m3, 1)).astype(np.float32) * 100,
         "w_exp": rng.normal(size=(m3, 29)).astype(np.float32) * 1e3,
         "sigma_exp": np.linspace(2, 0.1, 29).reshape(-1, 1).astype(np.float32)}
    scipy.io.savemat(tmp_path / "Model_Expression.mat", d)
    scipy.io.savemat(tmp_path / "BFM_exp_idx.mat", {"trimIndex": (KEEP + 1).reshape(-1, 1).astype(np.uint16)})
    return tmp_path / "Model_Expression.mat", tmp_path / "BFM_exp_idx.mat", d


def test_bfm2009_identity_only(bfm2009):
    path, d, t = bfm2009
    m = load_model(path)
    assert m.metadata["format_detected"] == "bfm2009"
    assert (m.num_vertices, m.num_id, m.num_exp, m.units) == (N_FULL, 100, 0, "um")
    np.testing.assert_array_equal(m.triangles, t)  # 1-based CW → 0-based CCW
    np.testing.assert_allclose(m.id_std, d["shapeEV"][:100, 0], rtol=1e-6)
    c = np.random.default_rng(5).normal(size=100)
    expect = d["shapeMU"][:, 0] + d["shapePC"][:, :100].astype(np.float64) @ (c * d["shapeEV"][:100, 0])
    np.testing.assert_allclose(m.decode(c), expect.reshape(-1, 3), rtol=1e-4, atol=1.0)


def test_bfm2009_with_3ddfa_expression(bfm2009, model_expression):
    path, d, _ = bfm2009
    exp_path, trim_path, e = model_expression
    m = convert_bfm2009(path, expression=exp_path, trim_index=trim_path)
    assert (m.num_vertices, m.num_id, m.num_exp) == (len(KEEP), 100, 29)
    rows = (3 * KEEP[:, None] + np.arange(3)).reshape(-1)
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=100), rng.normal(size=29)
    expect = d["shapeMU"][rows, 0] + e["mu_exp"][:, 0] \
        + d["shapePC"][rows, :100].astype(np.float64) @ (a * d["shapeEV"][:100, 0]) \
        + e["w_exp"].astype(np.float64) @ (b * e["sigma_exp"][:, 0])
    np.testing.assert_allclose(m.decode(a, b), expect.reshape(-1, 3), rtol=1e-4, atol=1.0)
    # triangles: those of the full mesh with all corners kept, renumbered, CCW
    assert len(m.triangles) > 0 and np.all(m.vertex_normals()[:, 2] > 0)


def test_bfm2009_expression_needs_trim_index(bfm2009, model_expression):
    with pytest.raises(FaceModelError, match="trim index"):
        convert_bfm2009(bfm2009[0], expression=model_expression[0])


def test_bfm2009_with_guo_exp_pca_bin(bfm2009, tmp_path):
    path, d, _ = bfm2009
    rng = np.random.default_rng(4)
    k, m3 = 79, 3 * len(KEEP)
    mean, basis = rng.normal(size=m3).astype(np.float32), rng.normal(size=(k, m3)).astype(np.float32)
    with open(tmp_path / "Exp_Pca.bin", "wb") as fh:
        np.array([k], "<i4").tofile(fh)
        mean.tofile(fh)
        basis.tofile(fh)
    std = np.linspace(4.5e5, 1e3, k)
    np.savetxt(tmp_path / "std_exp.txt", std)
    trim = tmp_path / "BFM_info.mat"
    scipy.io.savemat(trim, {"model_info": {"trimIndex": (KEEP + 1).reshape(-1, 1).astype(np.uint16)}})
    m = convert_bfm2009(path, expression=tmp_path / "Exp_Pca.bin", trim_index=trim)
    assert m.num_exp == 29  # paper default out of 79
    b = rng.normal(size=29)
    rows = (3 * KEEP[:, None] + np.arange(3)).reshape(-1)
    expect = d["shapeMU"][rows, 0] + basis[:29].T.astype(np.float64) @ (b * std[:29])  # Guo mean unused
    np.testing.assert_allclose(m.decode(None, b), expect.reshape(-1, 3), rtol=1e-4, atol=1.0)


def test_bfm2017_h5(tmp_path):
    rng = np.random.default_rng(6)
    v, t = bump_grid(8, 6, scale=90.0)
    n = len(v)
    q, _ = np.linalg.qr(rng.normal(size=(3 * n, 40)))
    qe, _ = np.linalg.qr(rng.normal(size=(3 * n, 30)))
    path = tmp_path / "model2017-1_bfm_nomouth.h5"
    with h5py.File(path, "w") as f:
        f["shape/model/mean"] = v.reshape(-1).astype(np.float32)
        f["shape/model/pcaBasis"] = q.astype(np.float32)
        f["shape/model/pcaVariance"] = np.linspace(400, 1, 40).astype(np.float32)
        f["shape/model/noiseVariance"] = np.float32(1.0)
        f["shape/representer/points"] = v.T.astype(np.float32)
        f["shape/representer/cells"] = t.T.astype(np.uint32)
        f["expression/model/mean"] = np.zeros(3 * n, np.float32)
        f["expression/model/pcaBasis"] = qe.astype(np.float32)
        f["expression/model/pcaVariance"] = np.linspace(30, 1, 30).astype(np.float32)
    m = load_model(path)
    assert (m.num_vertices, m.num_id, m.num_exp, m.units) == (n, 40, 29, "mm")
    a, b = rng.normal(size=40), rng.normal(size=29)
    expect = v.reshape(-1) + q @ (a * np.sqrt(np.linspace(400, 1, 40))) \
        + qe[:, :29] @ (b * np.sqrt(np.linspace(30, 1, 30)[:29]))
    np.testing.assert_allclose(m.decode(a, b), expect.reshape(-1, 3), atol=1e-3)
    np.testing.assert_array_equal(m.triangles, t)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 199), st.lists(st.floats(-3, 3), min_size=1, max_size=199))
def test_property_convert_then_decode_gives_source_vertices(k, coeffs):
    """For any component count and coefficients, the converted model reproduces BFM's own formula."""
    d, _ = _bfm2009_arrays(seed=k)
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "01_MorphableModel.mat"
        scipy.io.savemat(p, d)
        m = convert_bfm2009(p, num_id=k)
    c = np.zeros(k)
    c[:min(k, len(coeffs))] = coeffs[:k]
    expect = d["shapeMU"][:, 0] + d["shapePC"][:, :k].astype(np.float64) @ (c * d["shapeEV"][:k, 0])
    np.testing.assert_allclose(m.decode(c), expect.reshape(-1, 3), rtol=1e-4, atol=2.0)
