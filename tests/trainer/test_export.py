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


def test_landmark_graph_is_the_trunk_one_layer_and_the_projection(trained_checkpoint, tmp_path):
    import onnx

    export(str(trained_checkpoint), str(tmp_path), formats=("onnx",))
    graph = onnx.load(str(tmp_path / "facenet_landmarks.onnx")).graph
    ops = [n.op_type for n in graph.node]
    _, _, names, _, _ = build_from_checkpoint(str(trained_checkpoint))
    assert ops.count("Gemm") == 1 and "Einsum" not in ops  # no second fc, no decoder bases
    (gemm,) = [n for n in graph.node if n.op_type == "Gemm"]
    weights = {t.name: t for t in graph.initializer}
    assert tuple(weights[gemm.input[1]].dims) == (6 + 3 * len(names), 512)  # pose + (x, y, z) per landmark
    assert ops.index("Gemm") > max(i for i, op in enumerate(ops) if op == "Conv")


def test_int8_export_is_calibrated_quantized_per_channel_and_measured(trained_checkpoint, synthetic_faces, tmp_path):
    import onnx

    from trainer.export import Int8Options

    _, _, write_shards = synthetic_faces
    shards = write_shards(tmp_path / "faces.h5", {"300w_lp": 12}, seed=3)
    report = export(str(trained_checkpoint), str(tmp_path / "out"), formats=("onnx",),
                    int8=Int8Options(str(shards), "train", 8, None, "val"))
    path = tmp_path / "out" / "facenet_landmarks.int8.onnx"
    assert str(path) in report.files and not list((tmp_path / "out").glob("*.partial"))
    graph = onnx.load(str(path)).graph
    weights = {t.name: t for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    for conv in convs:  # every convolution reads int8 weights with one scale per output channel
        dq = next(n for n in graph.node if n.output[0] == conv.input[1])
        assert dq.op_type == "DequantizeLinear"
        assert weights[dq.input[0]].data_type == onnx.TensorProto.INT8
        assert weights[dq.input[1]].dims[0] == weights[dq.input[0]].dims[0]
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    assert weights[gemm.input[1]].data_type == onnx.TensorProto.FLOAT  # the folded layer stays float
    change = report.int8
    assert change.faces == 3 and change.split == "val" and change.landmarks > 0
    assert np.isfinite([change.int8_face_mean, change.float_face_mean]).all()  # too few faces for every |yaw| bucket
    assert change.float_face_mean > 0 and abs(change.int8_face_mean - change.float_face_mean) < 1.0
    info = json.loads((tmp_path / "out" / "facenet_landmarks.json").read_text())
    assert info["int8"]["file"] == path.name and "8 faces of split train" in info["int8"]["calibration"]


def test_int8_refuses_shards_without_the_split_before_writing(trained_checkpoint, synthetic_faces, tmp_path):
    from trainer.errors import InputError
    from trainer.export import Int8Options

    _, _, write_shards = synthetic_faces
    shards = write_shards(tmp_path / "faces.h5", {"300w_lp": 4})
    with pytest.raises(InputError, match="test"):
        export(str(trained_checkpoint), str(tmp_path / "out"), int8=Int8Options(str(shards)))
    assert not (tmp_path / "out").exists()


def test_int8_option_errors_are_one_message(trained_checkpoint, synthetic_faces, tmp_path):
    from click.testing import CliRunner

    from trainer.cli import train

    _, _, write_shards = synthetic_faces
    shards = str(write_shards(tmp_path / "faces.h5", {"300w_lp": 4}))
    res = CliRunner().invoke(train, ["export", str(trained_checkpoint), "--out", str(tmp_path / "a"), "--int8", shards])
    assert res.exit_code == 2 and "'--int8'" in res.output and "test" in res.output and res.exception is not None
    assert "Traceback" not in res.output
    res = CliRunner().invoke(train, ["export", str(trained_checkpoint), "--out", str(tmp_path / "b"),
                                     "--int8-test", shards])
    assert res.exit_code == 2 and "--int8-test needs --int8" in res.output
    res = CliRunner().invoke(train, ["export", str(trained_checkpoint), "--out", str(tmp_path / "c"), "--int8", shards,
                                     "--output", "mesh"])
    assert res.exit_code == 2 and "--output landmarks" in res.output
