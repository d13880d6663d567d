"""Dispatch by what a path is, and the winding contract (+z normals on the nose) for every real model."""
import numpy as np
import pytest

from landmark_fusion.facemodel import FaceModelError, detect_format, load_model


def _nose_normal_z(model):
    """z of the vertex normal at the nose tip (the vertex nearest the viewer)."""
    tip = int(np.argmax(model.mean[:, 2]))
    return model.vertex_normals()[tip, 2]


@pytest.mark.parametrize("rel, fmt", [
    ("sfm-eos/sfm_shape_3448.bin", "eos"),
    ("ict-facekit/ict_facekit_face.npz", "ict-npz"),
    ("ict-facekit/FaceXModel-sample", "ict-folder"),
    ("bfm-3ddfa/3DDFA", "3ddfa"),
])
def test_every_real_model_faces_the_viewer(models_dir, rel, fmt):
    path = models_dir / rel
    assert detect_format(path) == fmt
    m = load_model(path)
    assert _nose_normal_z(m) > 0.9
    # the area-weighted normal of the whole mesh points to +z
    v, t = m.mean.astype(np.float64), m.triangles
    assert np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])[:, 2].sum() > 0
    # axes: subject's left at +x is symmetric-ish, y up: the forehead/nose is above the chin
    lo, hi = m.bounding_box()
    assert hi[0] > 0 > lo[0] and hi[1] > 0 > lo[1]


def test_converted_file_round_trips_through_dispatch(models_dir, tmp_path):
    m = load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin", units="cm", num_id=5)
    m.save(tmp_path / "sfm.npz")
    assert detect_format(tmp_path / "sfm.npz") == "facemodel-npz"
    back = load_model(tmp_path / "sfm.npz", num_id=3)
    assert (back.units, back.num_id, back.num_exp) == ("cm", 3, 6)
    original = load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin")
    np.testing.assert_allclose(back.mean, original.mean / 10, rtol=1e-6)


def test_unknown_inputs_are_named_errors(tmp_path, models_dir):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(FaceModelError, match="unknown model format"):
        load_model(tmp_path / "x.txt")
    with pytest.raises(FaceModelError, match="expression-only"):
        load_model(models_dir / "sfm-eos" / "expression_blendshapes_3448.bin")
    with pytest.raises(FaceModelError, match="neither"):
        load_model(tmp_path)
    with pytest.raises(FaceModelError, match="no such"):
        load_model(tmp_path / "missing.npz")
