import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from trainer.export import build_from_checkpoint, export


@pytest.mark.parametrize("output", ["landmarks", "mesh"])
def test_exports_match_eager_and_run_without_python_model(trained_checkpoint, tmp_path, output):
    report = export(str(trained_checkpoint), str(tmp_path), output=output)
    assert report.max_abs_diff["onnx"] < 1e-3 and report.max_abs_diff["torchscript"] < 1e-4
    info = json.loads((tmp_path / f"facenet_{output}.json").read_text())
    sess = ort.InferenceSession(str(tmp_path / f"facenet_{output}.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(3, 3, 128, 128)).astype(np.float32)  # another batch size
    points, pose = sess.run(None, {"image": x})
    enc, dec, names, face, _ = build_from_checkpoint(str(trained_checkpoint), full_mesh=True)
    with torch.no_grad():
        p = enc(torch.from_numpy(x))
        ref = dec.mesh(p).numpy() if output == "mesh" else dec.landmarks(p).numpy()
    np.testing.assert_allclose(points, ref, atol=1e-3)
    assert pose.shape == (3, 6)
    if output == "mesh":
        assert points.shape == (3, face.mean.shape[0], 3)
    else:
        assert info["landmark_names"] == names and points.shape == (3, len(names), 2)
