from dataclasses import fields

import pytest
import yaml
from click.testing import CliRunner

from cli import train


def _train_args(small_shards, face_model_path, vertex_table_path, out, *extra):
    return ["--shards", str(small_shards), "--model", str(face_model_path), "--vertex-table", str(vertex_table_path),
            "--out", str(out), "--width", "0.5", "--kc", "0", "--batch-size", "4", "--steps", "1", "--workers", "0",
            "--no-progress", *extra]


def test_train_command_trains_and_eval_prints_table(small_shards, face_model_path, vertex_table_path, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(train, _train_args(small_shards, face_model_path, vertex_table_path, out, "--db", "A"))
    assert res.exit_code == 0, res.output
    assert "val NME 300w_lp" in res.output
    res = CliRunner().invoke(train, ["eval", str(out / "final.pt"), "--shards", str(small_shards), "--split", "val",
                                     "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    assert "| 300w_lp |" in res.output and "per-face baseline" in res.output


def test_train_without_inputs_is_a_usage_error():
    res = CliRunner().invoke(train, [])
    assert res.exit_code == 2 and "--shards" in res.output


def test_every_train_option_has_help_and_the_dataclass_default():
    from trainer.config import TrainConfig

    params = {p.name: p for p in train.params}
    for p in train.params:
        assert p.help, p.name
    for f in fields(TrainConfig):
        shown = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        assert params[f.name].default == shown, f.name  # generated from the field: one source of truth
    for command in train.commands.values():
        for p in command.params:
            assert getattr(p, "help", None) or p.param_type_name == "argument", (command.name, p.name)


def test_old_flag_names_still_work():
    names = {opt for p in train.params for opt in (*p.opts, *p.secondary_opts)}
    assert {"--kc", "--no-augment", "--no-balance", "--no-amp", "--no-progress", "--batch-size", "--w-c",
            "--val-every", "--ckpt-every", "--stop-after", "--init", "--resume"} <= names


def test_preset_config_file_and_command_line_in_that_order(small_shards, face_model_path, vertex_table_path,
                                                           tmp_path):
    config = tmp_path / "opts.yaml"
    config.write_text(yaml.safe_dump({"lr": 0.002, "warmup_steps": 3, "sources": ["300w_lp"], "seed": 7}))
    out = tmp_path / "run"
    args = ["--preset", "demo-cpu", "--config", str(config)] + _train_args(
        small_shards, face_model_path, vertex_table_path, out, "--seed", "9")
    res = CliRunner().invoke(train, args)
    assert res.exit_code == 0, res.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    from trainer.config import PRESETS, default_of

    preset = PRESETS["demo-cpu"]
    assert preset["rotate_deg"] != default_of("rotate_deg")
    assert saved["rotate_deg"] == preset["rotate_deg"] and saved["shift_frac"] == preset["shift_frac"]  # preset
    assert saved["warmup_steps"] == 3 and saved["lr"] == 0.002 and saved["sources"] == ["300w_lp"]  # config
    assert saved["seed"] == 9 and saved["width"] == 0.5 and saved["steps"] == 1  # command line
    assert saved["shards"] == str(small_shards.resolve())
    again = tmp_path / "again"
    res = CliRunner().invoke(train, ["--config", str(out / "config.yaml"), "--out", str(again)])
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in yaml.safe_load((again / "config.yaml").read_text()).items() if k != "out"} == \
        {k: v for k, v in saved.items() if k != "out"}


@pytest.mark.parametrize("text, message", [
    ("batch_size: 4\nbatchsize: 3\nlearning_rate: 1\n", "unknown options batchsize, learning_rate"),
    ("[1, 2]\n", "maps option names to values"),
    ("lr: [oops\n", "not a readable YAML file"),
    ("width: wide\n", "width"),
    ("augment: maybe\n", "augment must be true or false"),
])
def test_a_bad_config_file_is_named(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    res = CliRunner().invoke(train, ["--config", str(config)])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert str(config) in res.output and message in res.output, res.output


def _fails_cleanly(args, *expected, code=(1, 2)):
    res = CliRunner().invoke(train, [str(a) for a in args])
    assert res.exit_code in code, (args, res.output, res.exception)
    assert isinstance(res.exception, SystemExit), (args, repr(res.exception))  # no traceback
    assert "Traceback" not in res.output
    for text in expected:
        assert str(text) in res.output, (args, text, res.output)
    return res


def test_bad_inputs_to_train_are_messages(small_shards, face_model_path, vertex_table_path, tmp_path):
    def base(*extra: str) -> list[str]:
        return _train_args(small_shards, face_model_path, vertex_table_path, tmp_path / "run", *extra)

    not_shards = tmp_path / "notes.h5"
    not_shards.write_text("not hdf5")
    args = base()
    _fails_cleanly(["--shards", tmp_path / "missing.h5"] + args[2:], "missing.h5: shards not found", "--shards")
    _fails_cleanly(["--shards", not_shards] + args[2:], "notes.h5: not a shard file", "--shards")
    _fails_cleanly(args[:2] + ["--model", tmp_path / "none.npz"] + args[4:], "none.npz: face model not found")
    _fails_cleanly(args[:2] + ["--model", not_shards] + args[4:], "notes.h5: not a usable face model")
    _fails_cleanly(base("--batch-size", "500"), "--batch-size", "larger than an epoch")
    _fails_cleanly(base("--sources", "lfw74"), "lfw74: not a source of the shards")
    _fails_cleanly(base("--train-split", "trian"), "no faces in split 'trian'", "splits train, val")
    _fails_cleanly(base("--device", "gpu9"), "--device", "'gpu9'")
    _fails_cleanly(base("--width", "0"), "--width")
    _fails_cleanly(base("--resume", tmp_path / "missing.pt"), "missing.pt")
    _fails_cleanly(_train_args(small_shards, face_model_path, vertex_table_path, not_shards),
                   "notes.h5: exists and is not a folder")
    assert not (tmp_path / "run").exists()  # nothing was started


def test_resume_from_final_and_init_from_another_network_are_messages(trained_checkpoint, small_shards,
                                                                      face_model_path, vertex_table_path, tmp_path):
    _fails_cleanly(["--resume", trained_checkpoint, "--no-progress"], "--resume", "final.pt holds the weights only")
    args = _train_args(small_shards, face_model_path, vertex_table_path, tmp_path / "run", "--init", trained_checkpoint)
    _fails_cleanly(args, "--init", "does not match this run's")  # trained with K_c 3, this run has 0


@pytest.mark.parametrize("content, message", [
    (None, "vertex table not found"),
    ("nose_tip: [1, 2\n", "not a readable YAML vertex table"),
    ("- nose_tip\n- chin\n", "maps landmark names to vertex indices"),
    ("nose_tip: tip\n", "not a vertex index: nose_tip: 'tip'"),
    ("nose_tipp: 3\nchin: 4\n", "unknown landmark names (not in the canonical vocabulary"),
    ("nose_tip: 100000\n", "vertex indices outside the model's 0..168"),
])
def test_a_bad_vertex_table_is_named(small_shards, face_model_path, tmp_path, content, message):
    table = tmp_path / "BAD.yaml"
    if content is not None:
        table.write_text(content)
    args = ["--shards", small_shards, "--model", face_model_path, "--vertex-table", table, "--out",
            tmp_path / "run", "--steps", "1", "--no-progress"]
    _fails_cleanly(args, "BAD.yaml", message, "--vertex-table", code=(2,))


def test_bad_inputs_to_eval_are_messages(trained_checkpoint, small_shards, tmp_path):
    ck = trained_checkpoint
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--split", "test"], "no faces in split 'test'",
                   "splits train, val")
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--split", "vall"], "no faces in split 'vall'")
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--sources", "aflw"], "aflw: not a source")
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--split", "val", "--model", tmp_path / "m.npz"],
                   "m.npz: face model not found", "--model")
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--device", "cuda:7"], "--device")
    _fails_cleanly(["eval", ck, "--shards", small_shards, "--protocol", "aflw-3ddfa"], "aflw")


def test_bad_inputs_to_reconstruct_and_export_are_messages(trained_checkpoint, tmp_path):
    import cv2
    import numpy as np

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    rec = ["reconstruct", image, "--checkpoint", trained_checkpoint, "--out", tmp_path / "rec"]
    _fails_cleanly(rec + ["--box", "1,2,x,4"], "--box", "four numbers")
    _fails_cleanly(rec + ["--box", "1,2,3"], "--box", "four numbers")
    _fails_cleanly(rec + ["--box", "10,10,5,20"], "--box", "larger")
    _fails_cleanly(rec + ["--box", "0,0,60,60", "--scheme", "ibug99"], "--scheme", "ibug99")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    _fails_cleanly(["export", trained_checkpoint, "--out", a_file], "a_file")
