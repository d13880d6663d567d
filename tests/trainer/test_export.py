import json
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from trainer.export import build_from_checkpoint, export


@pytest.mark.parametrize("output", ["landmarks", "mesh"])
def test_exports_match_eager_and_run_without_python_model(trained_checkpoint, tmp_path, output, capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = export(str(trained_checkpoint), str(tmp_path), output=output)
    assert [str(w.message) for w in caught] == []  # no tracer or deprecation warnings
    assert capfd.readouterr().err == ""
    assert report.max_abs_diff["onnx"] < 1e-3 and report.max_abs_diff["pt2"] < 1e-4
    info = json.loads((tmp_path / f"facenet_{output}.json").read_text())
    sess = ort.InferenceSession(str(tmp_path / f"facenet_{output}.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(5, 3, 128, 128)).astype(np.float32)  # another batch size
    points, pose = sess.run(None, {"image": x})
    enc, dec, names, face, _ = build_from_checkpoint(str(trained_checkpoint), full_mesh=True)
    with torch.no_grad():
        p = enc(torch.from_numpy(x))
        ref = dec.mesh(p).numpy() if output == "mesh" else dec.landmarks(p).numpy()
    np.testing.assert_allclose(points, ref, atol=1e-3)
    program = torch.export.load(str(tmp_path / f"facenet_{output}.pt2")).module()
    with torch.no_grad():
        got, _ = program(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-4)
    assert pose.shape == (5, 6)
    if output == "mesh":
        assert points.shape == (5, face.mean.shape[0], 3)
    else:
        assert info["landmark_names"] == names and points.shape == (5, len(names), 2)


def test_an_unknown_format_is_named(trained_checkpoint, tmp_path):
    from trainer.errors import InputError

    with pytest.raises(InputError, match="torchscript"):
        export(str(trained_checkpoint), str(tmp_path), formats=("torchscript",))
