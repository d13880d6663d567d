"""`fuse model convert` and `fuse model info` on the real SFM and ICT files."""
import json

import numpy as np
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.facemodel import FaceModel


def test_convert_then_info(models_dir, tmp_path):
    out = tmp_path / "sfm.npz"
    r = CliRunner().invoke(fuse, ["model", "convert", str(models_dir / "sfm-eos" / "sfm_shape_3448.bin"),
                                  "--out", str(out), "--n-id", "20"])
    assert r.exit_code == 0, r.output
    assert "3448 vertices" in r.output and "20 identity + 6 blendshapes" in r.output
    m = FaceModel.load(out)
    assert (m.num_id, m.num_exp, m.units) == (20, 6, "mm")
    r = CliRunner().invoke(fuse, ["model", "info", str(out), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["vertices"] == 3448 and info["identity_components"] == 20 and info["units"] == "mm"
    np.testing.assert_allclose(info["bbox_min"], m.mean.min(axis=0), rtol=1e-6)


def test_info_on_source_formats(models_dir):
    r = CliRunner().invoke(fuse, ["model", "info", str(models_dir / "ict-facekit" / "ict_facekit_face.npz")])
    assert r.exit_code == 0, r.output
    assert "9409" in r.output and "100 components" in r.output and "cm" in r.output


def test_pickle_needs_flag(models_dir):
    pkl = models_dir / "bfm-3ddfa" / "3DDFA" / "param_whitening.pkl"
    r = CliRunner().invoke(fuse, ["model", "info", str(pkl)])
    assert r.exit_code != 0 and "--allow-pickle" in r.output
    r = CliRunner().invoke(fuse, ["model", "info", str(pkl), "--allow-pickle"])
    assert r.exit_code != 0 and "not a 3DDFA_V2 model" in r.output  # read, but not a model


def test_convert_ict_folder_with_units(models_dir, tmp_path):
    out = tmp_path / "ict.npz"
    r = CliRunner().invoke(fuse, ["model", "convert", str(models_dir / "ict-facekit" / "FaceXModel-sample"),
                                  "--out", str(out), "--units", "mm", "--name", "ict-sample"])
    assert r.exit_code == 0, r.output
    m = FaceModel.load(out)
    assert m.name == "ict-sample" and m.units == "mm" and (m.num_id, m.num_exp) == (2, 2)
    assert m.metadata["identity_objs_found"] == 2
