"""Checkpoints never run code: a crafted .pt is refused by every command that reads one."""
import pathlib
import random

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from trainer.checkpoint import CheckpointError, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from trainer.cli import train


class WritesAFile:
    """Unpickling this calls ``Path.write_text(marker, "ran")``: what a malicious checkpoint would do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "ran")


def crafted_checkpoint(path: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    torch.save({"format_version": 2, "model": WritesAFile(marker), "encoder": {}, "config": {}, "decoder": {},
                "face_model": {}}, path)
    return path


def test_the_crafted_file_is_a_real_payload(tmp_path):
    marker = tmp_path / "ran.txt"
    crafted = crafted_checkpoint(tmp_path / "evil.pt", marker)
    torch.load(crafted, weights_only=False)  # what the trainer used to do
    assert marker.read_text() == "ran"


def test_every_command_refuses_a_crafted_checkpoint(tmp_path, small_shards, face_model_path, vertex_table_path):
    marker = tmp_path / "ran.txt"
    crafted = crafted_checkpoint(tmp_path / "evil.pt", marker)
    image = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    commands = [
        ["eval", str(crafted), "--shards", str(small_shards)],
        ["export", str(crafted), "--out", str(tmp_path / "export")],
        ["reconstruct", str(image), "--checkpoint", str(crafted), "--box", "0,0,60,60", "--out", str(tmp_path / "r")],
        ["--resume", str(crafted), "--no-progress"],
        ["--shards", str(small_shards), "--model", str(face_model_path), "--vertex-table", str(vertex_table_path),
         "--init", str(crafted),
         "--out", str(tmp_path / "run"), "--no-progress"],
    ]
    for args in commands:
        res = CliRunner().invoke(train, args)
        assert res.exit_code in (1, 2), (args, res.output)
        assert isinstance(res.exception, SystemExit), (args, res.exception)  # a message, not a traceback
        assert f"{crafted}: refused" in res.output, (args, res.output)
        assert not marker.exists(), args
    assert not (tmp_path / "run").exists()  # nothing started


def test_a_file_that_is_no_checkpoint_is_named(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt: not a checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="weights.pt: checkpoint format None"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(3)
    np.random.seed(4)
    torch.manual_seed(5)
    random.random(), np.random.normal(), torch.rand(1)  # move every generator off its seed
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's legacy state
    save_checkpoint(tmp_path / "s.pt", rng=rng_state())
    expected = (random.random(), np.random.normal(), float(torch.rand(1)))
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True)["rng"])
    assert (random.random(), np.random.normal(), float(torch.rand(1))) == expected
