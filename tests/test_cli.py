"""The entry points: `fuse --version` and `train --version` print the installed version; `fuse` is the
fusion stage's group with the whole demo in place of its fusion part."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from click.testing import CliRunner

from cli import fuse, train, train_demo
from landmark_fusion.commands import fuse as fusion_commands
from landmark_fusion.commands import package_version
from landmark_fusion.demo.run import DemoResult
from trainer.demo import DemoTraining

REPO = Path(__file__).resolve().parents[1]
#: The outputs the demo's summary lists, in its order (docs/demo.md), with their paths in DIR.
SUMMARY_OUTPUTS = {
    "databases": "databases", "roots.yaml": "roots.yaml", "fused shards": "fused.h5",
    "coverage table": "coverage.csv", "coverage heatmap": "coverage.png", "contact sheet": "contact_sheet.png",
    "face model": "synthetic_model.npz", "training run": "training", "checkpoint": "training/final.pt",
    "evaluation CSV": "evaluation.csv", "evaluation tables": "evaluation", "ONNX network": "network.onnx",
    "ONNX network info": "network.json", "reconstructed mesh": "reconstruction.obj",
    "reconstruction overlay": "reconstruction_overlay.png", "reconstruction landmarks": "reconstruction.json",
}


def test_version_of_both_commands():
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("landmark-fusion")
    except PackageNotFoundError:
        from landmark_fusion import __version__ as expected
    assert package_version() == expected
    for command, name in ((fuse, "fuse"), (train, "train")):
        result = CliRunner().invoke(command, ["--version"])
        assert result.exit_code == 0 and result.output == f"{name} (landmark-fusion) {expected}\n"


def test_version_in_a_real_process():
    done = subprocess.run([sys.executable, "-c", "from cli import train; train()", "--version"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("train (landmark-fusion) ")


def test_fuse_is_the_fusion_group_with_the_whole_demo():
    assert set(fuse.commands) == set(fusion_commands.commands)
    assert all(fuse.commands[name] is fusion_commands.commands[name] for name in fuse.commands if name != "demo")
    whole = {p.name for p in fuse.commands["demo"].params}
    part = {p.name for p in fusion_commands.commands["demo"].params}
    assert part < whole and whole - part == {"no_train", "train_steps", "train_width", "train_batch"}
    assert fusion_commands.commands["demo"] is not fuse.commands["demo"]  # the fusion group is left as it is


def test_a_failed_training_step_is_recorded_and_keeps_the_fusion_results(tmp_path):
    fused = DemoResult(tmp_path, shards=tmp_path / "fused.h5", outputs={"roots.yaml": tmp_path / "roots.yaml"})
    assert train_demo(fused, DemoTraining(steps=1), None, log=lambda line: None) is fused
    assert fused.failed is not None and "fused.h5" in fused.failed
    assert list(fused.outputs) == ["roots.yaml"] and fused.seconds["train"] >= 0
    assert "demo FAILED" in fused.summary() and f"error: {fused.failed}" in fused.summary()


def test_demo_trains_evaluates_exports_and_reconstructs(tmp_path):
    """The whole demo in one process: the fusion part, then the trainer's part on its shards."""
    import onnxruntime as ort
    import trimesh

    from landmark_fusion.demo.run import reconstruction_target
    from landmark_fusion.demo.synthetic_model import synthetic_model
    from trainer.evaluate import TABLE_COLUMNS

    out = tmp_path / "demo"
    result = CliRunner().invoke(fuse, ["demo", "--out", str(out), "--faces", "16", "--train-steps", "5",
                                       "--train-batch", "8", "--workers", "1", "--no-progress", "--seed", "1"])
    assert result.exit_code == 0, result.output

    # evaluation table: one row per (split, database) of the shards' test faces, numeric NMEs
    with (out / "evaluation.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["split", *TABLE_COLUMNS]
    from landmark_fusion.shards import open_shards

    meta = open_shards(out / "fused.h5").meta()
    test = meta[meta["split"] == "test"]
    assert {r["database"] for r in rows if r["split"] == "test"} == set(test["source"])
    assert sum(int(r["faces"]) for r in rows if r["split"] == "test") == len(test)
    assert all(float(r["per-face mean"]) > 0 and float(r["per-face baseline"]) > 0 for r in rows)

    # ONNX network: loads, takes a 128×128 RGB batch, gives landmarks and a pose
    session = ort.InferenceSession(str(out / "network.onnx"), providers=["CPUExecutionProvider"])
    points, pose = session.run(None, {"image": np.zeros((2, 3, 128, 128), np.float32)})
    assert points.shape[0] == 2 and points.shape[2] == 2 and pose.shape == (2, 6)
    assert np.isfinite(points).all()

    # reconstructed mesh of one demo test image: the synthetic model's vertices and triangles, placed
    # on the face (its 2-D extent overlaps the face box the demo chose)
    model = synthetic_model().model
    assert (out / "synthetic_model.npz").is_file()
    mesh = trimesh.load(out / "reconstruction.obj", process=False)
    assert mesh.vertices.shape == (model.mean.shape[0], 3)
    assert len(mesh.faces) == len(model.triangles)
    _, (x0, y0, x1, y1) = reconstruction_target(out / "fused.h5", {
        db: out / p for db, p in yaml.safe_load((out / "roots.yaml").read_text()).items()})
    centre = mesh.vertices[:, :2].mean(axis=0)
    side = x1 - x0
    assert x0 - side < centre[0] < x1 + side and y0 - side < centre[1] < y1 + side
    assert (out / "reconstruction_overlay.png").stat().st_size > 1000

    # the summary names every output, fusion's then training's, each with its path
    listed = result.output[result.output.index("\noutputs:\n") + 10:].splitlines()
    assert [line.split("  ")[1].strip() for line in listed[:len(SUMMARY_OUTPUTS)]] == list(SUMMARY_OUTPUTS)
    for what, name in SUMMARY_OUTPUTS.items():
        assert f"{what}  " in result.output and str(out / name) in result.output, what
    assert result.output.count("training step: train ") == 1 and "demo finished in " in result.output
    assert "the training step failed" not in result.output
