"""`fuse demo --no-train` end to end: native mini-databases → roots.yaml → fused.h5 with every source."""
import numpy as np
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
