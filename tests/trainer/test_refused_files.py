"""`train --model` and `train eval --aflw-pts68` refuse pickled array files with one message, before
anything in them can run."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import train


class Payload:
    """Unpickling this would write a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def _refused(result, path: Path, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert f"{path}: refused:" in result.output and "could run code" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_train_refuses_a_pickled_model(tmp_path, small_shards, face_model_path, vertex_table_path):
    marker = tmp_path / "payload-ran"
    with np.load(face_model_path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["triangles"] = np.array([Payload(marker)], dtype=object)
    evil = tmp_path / "model.npz"
    np.savez(evil, **arrays)
    renamed = tmp_path / "renamed.npz"
    renamed.write_bytes(pickle.dumps(Payload(marker)))
    for path in (evil, renamed):
        result = CliRunner().invoke(train, ["--shards", str(small_shards), "--model", str(path),
                                            "--vertex-table", str(vertex_table_path), "--out",
                                            str(tmp_path / "run"), "--steps", "1", "--workers", "0",
                                            "--no-progress", "--db", "A"])
        _refused(result, path, exit_code=2)  # a usage error on --model
    assert not marker.exists()


@pytest.fixture(scope="module")
def aflw_shards(tmp_path_factory, samples_dir) -> Path:
    """Shards of the first 29 lines of the real AFLW sample's list (3 crops present)."""
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import Root

    out = tmp_path_factory.mktemp("aflw") / "aflw.h5"
    build_shards([Root("aflw", samples_dir / "AFLW")], out, BuildSettings(limit=29, workers=0, progress=False))
    return out


def test_eval_refuses_a_pickled_pts68(tmp_path, trained_checkpoint, aflw_shards):
    from landmark_fusion.correspondence import load_scheme

    marker = tmp_path / "payload-ran"
    folder = tmp_path / "test.configs"
    folder.mkdir()
    pts68 = folder / "AFLW_GT_pts68.npy"
    np.save(pts68, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    np.save(folder / "AFLW_GT_crop_roi_box.npy", np.zeros((1, 4), np.uint16))
    listing = tmp_path / "list.txt"
    listing.write_text("image00002.jpg\n")
    table = tmp_path / "table68.json"
    table.write_text(json.dumps({n: 2 * i for i, n in enumerate(load_scheme("ibug68_fixed").index_to_name)}))
    result = CliRunner().invoke(train, ["eval", str(trained_checkpoint), "--shards", str(aflw_shards),
                                        "--protocol", "aflw-3ddfa", "--vertex-table", str(table),
                                        "--aflw-pts68", str(pts68), "--aflw-list", str(listing)])
    _refused(result, pts68)
    assert not marker.exists()
