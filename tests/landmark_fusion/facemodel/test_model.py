import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_fusion.facemodel.model import FaceModel, FaceModelError, orient_towards_viewer

from .conftest import bump_grid


def _model(rng, k=4, e=3, kind="pca"):
    v, t = bump_grid()
    n = len(v)
    return FaceModel("toy", "cm", v, rng.normal(size=(k, n, 3)), rng.uniform(1, 2, k),
                     rng.normal(size=(e, n, 3)), rng.uniform(1, 2, e), t, kind,
                     [f"e{i}" for i in range(e)], {"ibug68": np.array([3, -1, 7])}, {"note": "x"})


def test_decode_matches_explicit_sum_with_batch_dims(rng):
    m = _model(rng)
    x_id, x_exp = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    out = m.decode(x_id, x_exp)
    assert out.shape == (2, 5, m.num_vertices, 3)
    expect = m.mean + np.einsum("bck,knd->bcnd", x_id, m.id_basis) + np.einsum("bce,end->bcnd", x_exp, m.exp_basis)
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_decode_vertex_subset_and_fewer_components(rng):
    m = _model(rng)
    verts = np.array([10, 2, 33])
    x_id = rng.normal(size=(7, 2))
    full = m.decode(x_id, None)
    np.testing.assert_allclose(m.decode(x_id, None, vertices=verts), full[:, verts], atol=1e-6)
    np.testing.assert_array_equal(m.decode(), m.mean)
    with pytest.raises(FaceModelError):
        m.decode(np.zeros(5))


def test_save_load_roundtrip(rng, tmp_path):
    m = _model(rng, kind="blendshapes")
    m.save(tmp_path / "m.npz")
    back = FaceModel.load(tmp_path / "m.npz")
    for key in ("mean", "id_basis", "id_std", "exp_basis", "exp_std", "triangles"):
        np.testing.assert_array_equal(getattr(back, key), getattr(m, key))
    assert (back.name, back.units, back.exp_kind, back.exp_names) == ("toy", "cm", "blendshapes", m.exp_names)
    np.testing.assert_array_equal(back.landmarks_hint["ibug68"], [3, -1, 7])
    assert back.metadata == {"note": "x"}
    with np.load(tmp_path / "m.npz", allow_pickle=False) as d:  # plain arrays only
        assert str(d["format"]) == "landmark_fusion.facemodel"


def test_load_refuses_foreign_npz(tmp_path):
    np.savez(tmp_path / "x.npz", mean=np.zeros((3, 3)))
    with pytest.raises(FaceModelError, match="not a"):
        FaceModel.load(tmp_path / "x.npz")


def test_subset_keeps_inner_triangles_and_hints(rng):
    m = _model(rng)
    keep = np.arange(0, 20)  # first two grid rows
    s = m.subset(keep)
    assert s.num_vertices == 20 and len(s.triangles) == 2 * 9
    np.testing.assert_array_equal(s.landmarks_hint["ibug68"], [3, -1, 7])
    x = rng.normal(size=4)
    np.testing.assert_allclose(s.decode(x), m.decode(x)[:20], atol=1e-6)


def test_to_units_scales_lengths_not_std(rng):
    m = _model(rng)
    mm = m.to_units("mm")
    assert mm.units == "mm" and mm.mm_per_unit == 1.0 and m.mm_per_unit == 10.0
    np.testing.assert_allclose(mm.mean, m.mean * 10, rtol=1e-6)
    np.testing.assert_allclose(mm.decode(np.ones(4)), m.decode(np.ones(4)) * 10, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mm.id_std, m.id_std)


def test_contract_checks(rng):
    v, t = bump_grid()
    with pytest.raises(FaceModelError):
        FaceModel("bad", "mm", v, np.zeros((2, 3, 3)), [1, 1], [], [], t)
    with pytest.raises(FaceModelError):
        FaceModel("bad", "furlong", v, [], [], [], [], t)
    with pytest.raises(FaceModelError):
        FaceModel("bad", "mm", v, [], [], [], [], t + len(v))


def test_orientation_flips_clockwise_mesh():
    v, t = bump_grid()
    cw = t[:, [0, 2, 1]]
    fixed, flipped = orient_towards_viewer(v, cw)
    assert flipped and np.array_equal(fixed, t)
    kept, flipped = orient_towards_viewer(v, t)
    assert not flipped and np.array_equal(kept, t)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=4, max_size=4), st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_decode_is_affine_in_coefficients(x_id, x_exp):
    m = _model(np.random.default_rng(1))
    a, b = np.array(x_id), np.array(x_exp)
    lhs = m.decode(a, b) - m.mean
    rhs = (m.decode(a, None) - m.mean) + (m.decode(None, b) - m.mean)
    np.testing.assert_allclose(lhs, rhs, atol=1e-4)
