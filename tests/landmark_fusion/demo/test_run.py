"""`fuse demo` end to end: native mini-databases → roots.yaml → fused.h5 with every source (--no-train),
and with a tiny training: evaluation CSV, ONNX network and reconstructed mesh."""
import csv

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.demo.databases import DATABASES


def test_demo_builds_shards_with_every_source(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(fuse, ["demo", "--out", str(out), "--faces", "8", "--no-train",
                                       "--workers", "1", "--no-progress", "--seed", "3"])
    assert result.exit_code == 0, result.output
    roots = yaml.safe_load((out / "roots.yaml").read_text())
    assert set(roots) == set(DATABASES)
    # native layouts on disk
    db = out / "databases"
    assert list((db / "300w_lp").glob("HELEN_Flip/*_Flip*.mat")) or list((db / "300w_lp").glob("*_Flip/*.mat"))
    assert list((db / "300w_lp" / "landmarks").rglob("*_pts.mat"))
    assert list((db / "ls3d_w" / "new_dataset").glob("*.t7"))
    assert list((db / "facewarehouse").glob("Tester_*/TrainingPose/pose_*.land"))
    assert (out / "databases" / "aflw_sqlite" / "aflw.sqlite").is_file()

    from landmark_fusion.shards import open_shards

    shards = open_shards(out / "fused.h5")
    meta = shards.meta()
    assert set(meta["source"]) == set(DATABASES)
    assert set(meta["split"]) >= {"train", "test"}
    row = shards.get(0)
    assert row["images"].shape[-1] == 3 and row["mask"].any()
    lm = row["landmarks"][row["mask"]]
    assert np.isfinite(lm).all()
    assert (out / "contact_sheet.png").stat().st_size > 10_000
    assert "contact sheet" in result.output and str(out / "fused.h5") in result.output
    assert not (out / "training").exists() and not (out / "evaluation.csv").exists()
    # the demo's own folder can be run again (its earlier shards are replaced); a user's cannot
    again = CliRunner().invoke(fuse, ["demo", "--out", str(out), "--faces", "8", "--no-train",
                                      "--workers", "1", "--no-progress", "--seed", "4"])
    assert again.exit_code == 0, again.output
    assert len(open_shards(out / "fused.h5")) > 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "training").mkdir()
    (mine / "training" / "notes.txt").write_text("the user's")
    refused = CliRunner().invoke(fuse, ["demo", "--out", str(mine), "--faces", "8", "--no-train"])
    assert refused.exit_code == 1 and "was not made by fuse demo" in refused.output
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*")) == ["training", "training/notes.txt"]


def test_demo_renders_a_converted_ict_model(tmp_path, models_dir):
    """`--model`: the ICT-FaceKit face (converted to the project's npz) rendered into every format."""
    model = tmp_path / "ict.npz"
    runner = CliRunner()
    converted = runner.invoke(fuse, ["model", "convert", str(models_dir / "ict-facekit" / "ict_facekit_face.npz"),
                                     "--out", str(model)])
    assert converted.exit_code == 0, converted.output
    out = tmp_path / "demo"
    result = runner.invoke(fuse, ["demo", "--out", str(out), "--model", str(model), "--faces", "8",
                                  "--no-train", "--workers", "1", "--no-progress", "--seed", "5"])
    assert result.exit_code == 0, result.output
    from landmark_fusion.shards import open_shards

    shards = open_shards(out / "fused.h5")
    meta = shards.meta()
    assert set(meta["source"]) == set(DATABASES)
    names = shards.landmark_names
    for row in range(len(shards)):
        sample = shards.get(row)
        points = sample["landmarks"][sample["mask"]]
        assert np.isfinite(points).all() and ((points > -20) & (points < 180)).all()
        if sample["mask"][names.index("nose_tip")] and sample["mask"][names.index("chin")]:
            nose, chin = sample["landmarks"][names.index("nose_tip")], sample["landmarks"][names.index("chin")]
            assert np.linalg.norm(nose - chin) > 10  # a face, not a collapsed point set


def test_demo_trains_evaluates_exports_and_reconstructs(tmp_path):
    pytest.importorskip("trainer.demo")
    ort = pytest.importorskip("onnxruntime")
    trimesh = pytest.importorskip("trimesh")
    from landmark_fusion.demo.run import reconstruction_target, trainer_available
    from landmark_fusion.demo.synthetic_model import synthetic_model
    from trainer.evaluate import TABLE_COLUMNS

    assert trainer_available()
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

    # the summary names every output
    for name in ("evaluation.csv", "network.onnx", "reconstruction.obj", "contact_sheet.png", "fused.h5"):
        assert str(out / name) in result.output


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGKILL"])
def test_a_stopped_demo_leaves_no_process(tmp_path, processes, name):
    """Stopped while its rendering processes run: they end with it, also after SIGKILL."""
    import signal

    demo = processes.start("demo", "--out", str(tmp_path / "demo"), "--faces", "120", "--no-train",
                           "--workers", "2", cwd=tmp_path)
    processes.wait_for(lambda: len(processes.session(demo.pid)) >= 3)  # the demo + 2 renderers
    status, err = processes.stop(demo, signal.Signals[name])
    if name == "SIGTERM":
        assert status == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    processes.wait_for(lambda: not processes.session(demo.pid), timeout=15)
