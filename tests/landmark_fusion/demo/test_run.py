"""The demo's fusion part (the fusion stage's own `fuse demo`): native mini-databases → roots.yaml →
fused.h5 with every source, stats and contact sheet; the whole demo, with its training, is tested with
the command that composes it (tests/test_cli.py)."""
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from landmark_fusion.commands import fuse
from landmark_fusion.demo.databases import DATABASES


def test_demo_builds_shards_with_every_source(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(fuse, ["demo", "--out", str(out), "--faces", "8",
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
    again = CliRunner().invoke(fuse, ["demo", "--out", str(out), "--faces", "8",
                                      "--workers", "1", "--no-progress", "--seed", "4"])
    assert again.exit_code == 0, again.output
    assert len(open_shards(out / "fused.h5")) > 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "training").mkdir()
    (mine / "training" / "notes.txt").write_text("the user's")
    refused = CliRunner().invoke(fuse, ["demo", "--out", str(mine), "--faces", "8"])
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
                                  "--workers", "1", "--no-progress", "--seed", "5"])
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


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGKILL"])
def test_a_demo_stopped_while_training_leaves_no_process_and_no_results(tmp_path, processes, name):
    """The whole demo (`fuse` of cli.py) stopped in its training step, which runs in the demo's own
    process: the data loader's worker ends with it, and no checkpoint, network or evaluation is left."""
    import signal

    out = tmp_path / "demo"
    demo = processes.start("demo", "--out", str(out), "--faces", "16", "--workers", "1", "--train-steps",
                           "100000", "--no-progress", cwd=tmp_path)
    processes.wait_for(lambda: (out / "training").is_dir() and len(processes.session(demo.pid)) >= 2,
                       timeout=300)  # training: the demo and its loader worker
    status, err = processes.stop(demo, signal.Signals[name])
    if name == "SIGTERM":
        assert status == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    processes.wait_for(lambda: not processes.session(demo.pid), timeout=30)
    assert not (out / "training" / "final.pt").exists()
    assert not any((out / name).exists() for name in ("network.onnx", "evaluation.csv", "reconstruction.obj"))
