"""The Surrey Face Model from eos, read with the project's numpy reader, checked against the raw bytes
at the offsets of docs/model-formats.md §3.1 (read here independently with np.fromfile)."""
import numpy as np
import pytest

from landmark_fusion.facemodel import FaceModelError, load_model
from landmark_fusion.facemodel.convert.eos import convert_eos, read_eos_blendshapes, read_eos_model


@pytest.fixture(scope="module")
def sfm_path(models_dir):
    return models_dir / "sfm-eos" / "sfm_shape_3448.bin"


@pytest.fixture(scope="module")
def raw(sfm_path):
    """Arrays cut from the file at the documented byte offsets (docs/model-formats.md §3.1)."""
    def at(offset, dtype, count):
        return np.fromfile(sfm_path, dtype=dtype, count=count, offset=offset)
    return {
        "version": at(0, "<u4", 1)[0],
        "mean_header": at(4, "<i4", 2),
        "mean": at(12, "<f4", 10344),
        "basis_header": at(41388, "<i4", 2),
        "basis": at(41396, "<f4", 10344 * 63).reshape(63, 10344).T,
        "ev": at(2648092, "<f4", 63),
        "ntri": at(2648344, "<u8", 1)[0],
        "tri": at(2648352, "<i4", 6736 * 3).reshape(-1, 3),
    }


def test_raw_layout_matches_documented_offsets(raw):
    assert raw["version"] == 1
    assert list(raw["mean_header"]) == [10344, 1] and list(raw["basis_header"]) == [10344, 63]
    assert raw["ntri"] == 6736
    assert raw["ev"][0] == pytest.approx(56502.4, abs=0.05) and raw["ev"][-1] == pytest.approx(45.6, abs=0.05)


def test_reader_reproduces_raw_arrays_exactly(sfm_path, raw):
    m = read_eos_model(sfm_path)
    assert m.version == 1
    np.testing.assert_array_equal(m.shape.mean, raw["mean"])
    np.testing.assert_array_equal(m.shape.orthonormal_basis, raw["basis"])
    np.testing.assert_array_equal(m.shape.eigenvalues, raw["ev"])
    np.testing.assert_array_equal(m.shape.triangles, raw["tri"])
    assert m.color.mean.size == 0 and m.expression is None and m.landmark_definitions is None
    assert m.texture_coordinates.shape == (3448, 2)
    assert m.texture_coordinates.min() >= 0 and m.texture_coordinates.max() <= 1


def test_converted_sfm_decodes_like_the_raw_formula(sfm_path, raw, tmp_path):
    fm = convert_eos(sfm_path)
    assert (fm.num_vertices, fm.num_id, len(fm.triangles), fm.units) == (3448, 63, 6736, "mm")
    np.testing.assert_array_equal(fm.triangles, raw["tri"])  # already CCW: unchanged
    np.testing.assert_allclose(fm.id_std ** 2, raw["ev"], rtol=1e-6)
    fm.save(tmp_path / "sfm.npz")
    back = load_model(tmp_path / "sfm.npz")
    c = np.random.default_rng(3).normal(size=(4, 63))
    expect = (raw["mean"][None] + (raw["basis"].astype(np.float64) @ (c * np.sqrt(raw["ev"].astype(np.float64))).T).T)
    np.testing.assert_allclose(back.decode(c), expect.reshape(4, -1, 3), atol=2e-3)


def test_blendshapes(models_dir, sfm_path):
    path = models_dir / "sfm-eos" / "expression_blendshapes_3448.bin"
    shapes = read_eos_blendshapes(path)
    assert [n for n, _ in shapes] == ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    # independent read of the first record: uint64 count, uint64 len, name, int32 rows, int32 cols, data
    off = 8 + 8 + len("anger")
    rows, cols = np.fromfile(path, "<i4", 2, offset=off)
    first = np.fromfile(path, "<f4", rows, offset=off + 8)
    assert (rows, cols) == (10344, 1)
    fm = convert_eos(sfm_path)
    assert fm.exp_kind == "blendshapes" and fm.exp_names[0] == "anger"
    np.testing.assert_array_equal(fm.exp_basis[0].reshape(-1), first)
    w = np.zeros(6)
    w[3] = 1.0
    np.testing.assert_allclose(fm.decode(None, w), fm.mean + shapes[3][1].reshape(-1, 3), atol=1e-5)
    disp = [np.linalg.norm(d.reshape(-1, 3), axis=1).max() for _, d in shapes]
    assert min(disp) == pytest.approx(5.7, abs=0.05) and max(disp) == pytest.approx(32.4, abs=0.05)


def test_component_count_option(sfm_path):
    fm = convert_eos(sfm_path, num_id=10, num_exp=2)
    assert fm.num_id == 10 and fm.num_exp == 2
    with pytest.raises(FaceModelError):
        convert_eos(sfm_path, num_id=64)


def test_truncated_file_is_a_named_error(sfm_path, tmp_path):
    bad = tmp_path / "cut.bin"
    bad.write_bytes(sfm_path.read_bytes()[:100000])
    with pytest.raises(FaceModelError, match="truncated"):
        read_eos_model(bad)
