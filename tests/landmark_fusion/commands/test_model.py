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


# ----------------------------------------------------------------------------- refused files

class _Payload:
    """Unpickling this would write a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return (Path.write_text, (self.marker, "code ran"))


def _pickled_models(tmp_path):
    """A FaceModel npz whose 'mean' holds a pickled object, and a pickle renamed to .npz."""
    import pickle

    from landmark_fusion.demo.synthetic_model import synthetic_model

    good = tmp_path / "good.npz"
    synthetic_model().model.save(good)
    marker = tmp_path / "payload-ran"
    with np.load(good) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["mean"] = np.array([_Payload(marker)], dtype=object)
    np.savez(tmp_path / "object_mean.npz", **arrays)
    (tmp_path / "renamed.npz").write_bytes(pickle.dumps({"mean": _Payload(marker)}))
    return good, [tmp_path / "object_mean.npz", tmp_path / "renamed.npz"], marker


def test_pickled_model_files_are_refused_by_every_command(tmp_path):
    _, pickled, marker = _pickled_models(tmp_path)
    roots = tmp_path / "roots.yaml"
    roots.write_text(f"300w: {tmp_path}\n")
    for path in pickled:
        for args in (["model", "info", str(path)], ["model", "convert", str(path), "--out", str(tmp_path / "o.npz")],
                     ["corr", "validate", "--model", str(path)],
                     ["corr", "check", "--model", str(path), "--roots", str(roots), "--sources", "300w"],
                     ["demo", "--out", str(tmp_path / "demo"), "--model", str(path), "--faces", "8"]):
            r = CliRunner().invoke(fuse, args)
            assert r.exit_code == 1, (args, r.output)
            assert f"{path}: refused:" in r.output and "could run code" in r.output, (args, r.output)
            assert r.exception is None or isinstance(r.exception, SystemExit)
    assert not marker.exists()
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "demo").exists()


def test_damaged_model_files_are_one_message(tmp_path):
    good, _, _ = _pickled_models(tmp_path)
    data = good.read_bytes()
    with np.load(good) as d:
        arrays = {k: d[k] for k in d.files if k != "id_basis"}
    np.savez(tmp_path / "incomplete.npz", **arrays)
    cases = {"cut.npz": data[: len(data) // 2], "empty.npz": b"", "garbage.bin": b"\x02\x00\x00\x00junk",
             "garbage.mat": b"MATLAB 5.0 but not really", "cut.mat": b"MATLAB 5.0",
             "garbage.h5": b"not hdf5"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    for name in [*cases, "incomplete.npz"]:
        r = CliRunner().invoke(fuse, ["model", "info", str(tmp_path / name)])
        assert r.exit_code == 1 and str(tmp_path / name) in r.output, (name, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (name, r.exception)
    r = CliRunner().invoke(fuse, ["model", "info", str(tmp_path / "incomplete.npz")])
    assert "without id_basis" in r.output


def test_convert_never_replaces_a_file_it_did_not_write(tmp_path):
    good, _, _ = _pickled_models(tmp_path)
    mine = tmp_path / "notes.npz"
    mine.write_text("the user's")
    r = CliRunner().invoke(fuse, ["model", "convert", str(good), "--out", str(mine), "--overwrite"])
    assert r.exit_code == 1 and "not a model file written by fuse model convert" in r.output
    assert mine.read_text() == "the user's"
    out = tmp_path / "converted.npz"
    assert CliRunner().invoke(fuse, ["model", "convert", str(good), "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(fuse, ["model", "convert", str(good), "--out", str(out)])
    assert r.exit_code == 1 and "pass --overwrite" in r.output
    r = CliRunner().invoke(fuse, ["model", "convert", str(good), "--out", str(out), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert FaceModel.load(out).num_vertices == FaceModel.load(good).num_vertices
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
