"""ICT-FaceKit: the converted face-region npz (keys of its README) and the raw OBJ sample folder."""
import json
import shutil

import numpy as np
import pytest

from landmark_fusion.facemodel import load_model
from landmark_fusion.facemodel.convert.ict import convert_ict_folder, convert_ict_npz, read_obj_vertices


@pytest.fixture(scope="module")
def ict_dir(models_dir):
    return models_dir / "ict-facekit"


def _obj_vertices_by_hand(path):
    out = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                out.append([float(x) for x in line.split()[1:4]])
    return np.array(out)


def test_npz_model(ict_dir):
    raw = np.load(ict_dir / "ict_facekit_face.npz")
    m = convert_ict_npz(ict_dir / "ict_facekit_face.npz")
    assert (m.num_vertices, m.num_id, m.num_exp, len(m.triangles)) == (9409, 100, 53, 18460)
    assert m.units == "cm" and m.exp_kind == "blendshapes"
    assert m.exp_names[0] == "browDown_L" and m.exp_names[-1] == "noseSneer_R"
    np.testing.assert_array_equal(m.mean, raw["mean"])
    np.testing.assert_array_equal(m.triangles, raw["triangles"])
    np.testing.assert_array_equal(m.landmarks_hint["ibug68"], raw["landmarks_68"])
    w_id, w_exp = np.linspace(-1, 1, 100), np.linspace(0, 1, 53)
    expect = raw["mean"] + np.tensordot(w_id, raw["id_basis"].astype(np.float32), 1) \
        + np.tensordot(w_exp, raw["exp_basis"].astype(np.float32), 1)
    np.testing.assert_allclose(m.decode(w_id, w_exp), expect, atol=1e-3)
    assert m.metadata["id_full_mesh_norms"][0] == pytest.approx(61.27, abs=0.01)


def test_npz_narrow_region(ict_dir):
    m = convert_ict_npz(ict_dir / "ict_facekit_face.npz", narrow=True)
    raw = np.load(ict_dir / "ict_facekit_face.npz")
    assert m.num_vertices == 6706
    assert {tuple(t) for t in m.triangles} == {tuple(t) for t in raw["narrow_triangles"]}


def test_obj_sample_folder(ict_dir):
    folder = ict_dir / "FaceXModel-sample"
    neutral = _obj_vertices_by_hand(folder / "generic_neutral_mesh.obj")
    assert neutral.shape == (26719, 3)
    np.testing.assert_allclose(read_obj_vertices(folder / "generic_neutral_mesh.obj"), neutral, atol=1e-5)
    m = convert_ict_folder(folder)
    assert (m.num_vertices, m.num_id, m.num_exp) == (9409, 2, 2)
    assert m.exp_names == ["eyeBlink_L", "jawOpen"]  # order of vertex_indices.json "expressions"
    assert m.metadata["identity_objs_found"] == 2 and m.metadata["expression_objs_found"] == 2
    ident = _obj_vertices_by_hand(folder / "identity001.obj")
    np.testing.assert_allclose(m.decode([0, 1.0]), ident[:9409], atol=1e-4)
    np.testing.assert_allclose(m.id_basis[0], (_obj_vertices_by_hand(folder / "identity000.obj") - neutral)[:9409],
                               atol=1e-4)
    lm = json.loads((folder / "vertex_indices.json").read_text())["idx_to_landmark_verts"]
    np.testing.assert_array_equal(m.landmarks_hint["ibug68"], lm)


def test_obj_folder_agrees_with_npz(ict_dir):
    a = convert_ict_folder(ict_dir / "FaceXModel-sample")
    b = convert_ict_npz(ict_dir / "ict_facekit_face.npz")
    np.testing.assert_array_equal(a.triangles, b.triangles)
    np.testing.assert_allclose(a.id_basis, b.id_basis[:2], atol=1e-3)  # npz holds float16
    np.testing.assert_allclose(a.exp_basis[1], b.exp_basis[b.exp_names.index("jawOpen")], atol=2e-3)


def test_partial_folder_without_expressions(ict_dir, tmp_path):
    src = ict_dir / "FaceXModel-sample"
    for name in ("generic_neutral_mesh.obj", "identity000.obj", "vertex_indices.json"):
        shutil.copy(src / name, tmp_path / name)
    m = load_model(tmp_path)
    assert (m.num_id, m.num_exp) == (1, 0)
    assert m.metadata["format_detected"] == "ict-folder"
