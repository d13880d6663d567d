"""Checkpoints work from any folder and after the run folder moved: the landmark decoder travels in the
checkpoint, the full mesh finds its model by absolute path (or --model) and checks it."""
import shutil

import cv2
import numpy as np
import torch
from click.testing import CliRunner

from trainer.cli import train


def _image_with_a_face(small_shards, path):
    from landmark_fusion.shards import open_shards

    row = open_shards(small_shards).get(0)
    cv2.imwrite(str(path), cv2.copyMakeBorder(row["images"][..., ::-1], 50, 50, 80, 80, cv2.BORDER_CONSTANT))
    return path


def test_a_moved_run_is_evaluated_exported_and_reconstructed_from_another_folder(
        tmp_path, monkeypatch, small_shards, face_model_path, vertex_table_path, synthetic_faces):
    torch.set_num_threads(1)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(face_model_path, work / "model.npz")
    monkeypatch.chdir(work)  # relative paths, as a user types them
    res = CliRunner().invoke(train, ["--shards", str(small_shards), "--model", "model.npz", "--vertex-table",
                                     str(vertex_table_path), "--out", "run", "--width", "0.5", "--kc", "3",
                                     "--batch-size", "4", "--steps", "2", "--workers", "0", "--no-progress",
                                     "--val-split", ""])
    assert res.exit_code == 0, res.output
    moved = tmp_path / "elsewhere" / "run"
    shutil.move(str(work / "run"), str(moved))
    ckpt = str(moved / "final.pt")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    image = _image_with_a_face(small_shards, other / "face.png")
    recon = ["reconstruct", str(image), "--checkpoint", ckpt, "--box", "100,70,156,126", "--out", "rec"]

    assert CliRunner().invoke(train, recon).exit_code == 0  # the model still where it was trained

    shutil.move(str(work / "model.npz"), str(tmp_path / "model-moved.npz"))  # the model is gone
    res = CliRunner().invoke(train, ["eval", ckpt, "--shards", str(small_shards), "--split", "val"])
    assert res.exit_code == 0, res.output
    assert "| 300w_lp |" in res.output
    res = CliRunner().invoke(train, ["export", ckpt, "--format", "onnx", "--out", "export"])
    assert res.exit_code == 0, res.output
    assert (other / "export" / "facenet_landmarks.onnx").is_file()

    res = CliRunner().invoke(train, recon)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert str(work / "model.npz") in res.output and "--model" in res.output
    res = CliRunner().invoke(train, recon + ["--model", str(tmp_path / "model-moved.npz")])
    assert res.exit_code == 0, res.output
    assert (other / "rec" / "face.obj").is_file()

    make_model = synthetic_faces[0]
    different = make_model()
    different.mean[0, 0] += 1.0
    different.save(tmp_path / "different.npz")
    res = CliRunner().invoke(train, recon + ["--model", str(tmp_path / "different.npz")])
    assert res.exit_code == 2 and "differs from the one" in res.output, res.output


def test_the_stored_landmark_decoder_equals_the_full_models(trained_checkpoint):
    from trainer import components as C
    from trainer.checkpoint import load_checkpoint

    ck = load_checkpoint(trained_checkpoint)
    assert ck["encoder"]["n_corr"] == 3  # the correction basis is part of what is compared
    stored = C.DecoderSource.of(ck, trained_checkpoint)
    full = C.DecoderSource.of(ck, trained_checkpoint, full_mesh=True)
    assert stored.face is None and full.face is not None
    names = list(stored.vertex_map)
    a = stored.decoder([stored.vertex_map[n] for n in names])
    b = full.decoder([full.vertex_map[n] for n in names])
    encoder, _ = C.checkpoint_encoder(ck, trained_checkpoint)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 3, 128, 128)).astype(np.float32))
    with torch.no_grad():
        p = encoder(x)
        p = type(p)(p.pose, p.x_id + 0.5, p.x_exp - 0.3, p.x_c + 1.0)  # exercise every basis
        np.testing.assert_allclose(a.landmarks(p).numpy(), b.landmarks(p).numpy(), atol=1e-4)
