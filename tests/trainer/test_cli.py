from click.testing import CliRunner

from cli import train


def test_train_command_trains_and_eval_prints_table(small_shards, face_model_path, vertex_table_path, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(train, ["--shards", str(small_shards), "--model", str(face_model_path),
                                     "--vertex-table", str(vertex_table_path), "--out", str(out), "--width", "0.5",
                                     "--kc", "0", "--batch-size", "4", "--steps", "1", "--workers", "0",
                                     "--no-progress", "--db", "A"])
    assert res.exit_code == 0, res.output
    assert "val NME 300w_lp" in res.output
    res = CliRunner().invoke(train, ["eval", str(out / "final.pt"), "--shards", str(small_shards), "--split", "val",
                                     "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    assert "| 300w_lp |" in res.output and "per-face baseline" in res.output


def test_train_without_inputs_is_a_usage_error():
    res = CliRunner().invoke(train, [])
    assert res.exit_code == 2 and "--shards" in res.output
