"""`train`: train on shards (``train --shards fused.h5 --model model.npz``), and the sub-commands
``train eval``, ``train export``, ``train reconstruct``. Heavy imports happen inside the commands.

The training options are generated from :class:`trainer.config.TrainConfig`'s fields (help, type, range
and flag live there); ``--preset`` and ``--config`` fill them before the command line does. A user's
bad input ends a command with one message naming the file or option (exit code 2 when it names an
option, else 1), never a traceback.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

import click
from click.core import ParameterSource

from .config import PRESETS, TrainConfig
from .errors import InputError
from .quantize import CALIBRATION_FACES, CALIBRATION_SPLIT, TEST_SPLIT


def _csv(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def user_errors(command: Callable) -> Callable:
    """Turn :class:`InputError` into click's messages: a usage error on its option (exit 2) or a plain
    error (exit 1); a model or array file the loaders refuse ends the command with their message, which
    names the file and why."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            if error.option:
                raise click.BadParameter(str(error), param_hint=f"'{error.option}'") from None
            raise click.ClickException(str(error)) from None
        except ValueError as error:  # a refused model or array file (pickled, damaged, not a model)
            from landmark_fusion.facemodel.model import FaceModelError
            from landmark_fusion.safeload import ArrayFileError

            if isinstance(error, (FaceModelError, ArrayFileError)):
                raise click.ClickException(str(error)) from None
            raise

    return wrapper


def _click_type(meta: dict) -> Any:
    if meta.get("choices"):
        return click.Choice(list(meta["choices"]), case_sensitive=False)
    kind = meta.get("type")
    low, high = meta.get("low"), meta.get("high")
    if kind is int and (low is not None or high is not None):
        return click.IntRange(min=low, max=high)
    if kind is float and (low is not None or high is not None):
        return click.FloatRange(min=low, max=high, min_open=bool(meta.get("low_open")))
    return kind or str


def _flag(f: Any) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _option_for(f: Any) -> Callable:
    """The click option of one TrainConfig field."""
    meta = f.metadata
    default = None if f.default is MISSING else f.default
    if isinstance(default, bool):
        flag = _flag(f)
        negative = meta.get("negative") or "--no-" + flag[2:]
        return click.option(f"{flag}/{negative}", f.name, default=default, show_default=True, help=meta["help"])
    shown = ",".join(default) if isinstance(default, tuple) else default
    return click.option(_flag(f), f.name, type=_click_type(meta), default=shown,
                        show_default=shown not in (None, ""), help=meta["help"])


def training_options(command: Callable) -> Callable:
    """Decorate ``command`` with one option per :class:`TrainConfig` field, in field order."""
    for f in reversed(fields(TrainConfig)):
        command = _option_for(f)(command)
    return command


def _convert(ctx: click.Context, name: str, value: Any, origin: str) -> Any:
    """A config-file value through its option's type (``origin`` names the file in errors)."""
    param = next(p for p in ctx.command.params if p.name == name)
    f = next(f for f in fields(TrainConfig) if f.name == name)
    if value is None:
        if f.default is not None and "None" not in str(f.type):
            raise InputError(f"{origin}: {name} cannot be empty", "--config")
        return None
    if f.metadata.get("csv"):
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
        return _csv(str(value))
    if isinstance(param.type, click.types.BoolParamType) or isinstance(f.default, bool):
        if not isinstance(value, bool):
            raise InputError(f"{origin}: {name} must be true or false, not {value!r}", "--config")
        return value
    try:
        return param.type.convert(value, param, ctx)
    except click.BadParameter as error:
        raise InputError(f"{origin}: {name}: {error.message}", "--config") from None


def resolve_options(ctx: click.Context, o: dict, preset: str | None, config: str | None) -> dict:
    """Field values, later wins: preset, config file, options given on the command line."""
    from .config import read_config_file

    values: dict[str, Any] = dict(PRESETS[preset]) if preset else {}
    if config:
        values.update({k: _convert(ctx, k, v, config) for k, v in read_config_file(config).items()})
    for f in fields(TrainConfig):
        if ctx.get_parameter_source(f.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            v = o[f.name]
            values[f.name] = _csv(v) if f.metadata.get("csv") else v
    if values.get("db"):
        values["db"] = str(values["db"]).upper()
    return values


@click.group("train", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="A named option set (docs/trainer.md \"Presets\"); --config and the options given win over it.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML file of options (keys: the option names with underscores, as in a run's "
                   "config.yaml); the options given on the command line win over it.")
@training_options
@click.pass_context
@user_errors
def train(ctx: click.Context, preset: str | None, config_file: str | None, **o: Any) -> None:
    """Train the MobileNet-V1 encoder + model decoder on fused shards (Eq. 1), or run a sub-command.

    Every run folder gets config.yaml, the resolved options (`train --config OUT/config.yaml` repeats
    the run)."""
    if ctx.invoked_subcommand is not None:
        return
    values = resolve_options(ctx, o, preset, config_file)
    if not values.get("resume") and not (values.get("shards") and values.get("model")):
        raise click.UsageError("give --shards and --model (or --resume CKPT)")
    from .loop import train as run

    result = run(TrainConfig(**values))
    click.echo(f"checkpoint: {result.checkpoint}")
    for src, nme in result.val.items():
        click.echo(f"val NME {src}: {nme:.2f} %")


@train.command("eval")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--shards", required=True, type=click.Path(exists=True), help="Shard file or folder to evaluate on.")
@click.option("--split", default="test", show_default=True, help="Split of the shards to evaluate.")
@click.option("--db", type=click.Choice(["A", "B", "C", "D"], case_sensitive=False),
              help="Evaluate the sources of one of the paper's fusion databases.")
@click.option("--sources", help="Comma-separated source names (default: all).")
@click.option("--model", "model_path", type=click.Path(),
              help="Face model (default: none needed for the trained landmarks; with --vertex-table, the "
                   "one the checkpoint was trained with, checked against it).")
@click.option("--vertex-table", help="JSON/YAML canonical name → vertex of the full model.")
@click.option("--protocol", type=click.Choice(["all", "aflw-3ddfa"]), default="all", show_default=True,
              help="aflw-3ddfa: 3DDFA's AFLW protocol (AFLW points composed from the predicted 68; "
                   "sources default to aflw).")
@click.option("--aflw-pts68", type=click.Path(exists=True, dir_okay=False),
              help="aflw-3ddfa: 3DDFA's AFLW_GT_pts68.npy for the 68-point-box normaliser "
                   "(AFLW_GT_crop_roi_box.npy must lie beside it).")
@click.option("--aflw-list", type=click.Path(exists=True, dir_okay=False),
              help="AFLW_GT_crop.list giving the row order of --aflw-pts68 "
                   "(default: ../test.data/AFLW_GT_crop.list from its folder).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for results.md/.csv, per_landmark.csv/.png.")
@click.option("--device", default="cpu", show_default=True, help="Device: cpu, cuda, cuda:N or auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Faces per batch.")
@user_errors
def eval_command(checkpoint, shards, split, db, sources, model_path, vertex_table, protocol, aflw_pts68, aflw_list,
                 out, device, batch_size) -> None:
    """NME per database and |yaw| bucket (3DDFA protocol) beside the mean-shape baseline."""
    from .data import source_names_for
    from .device import resolve_device
    from .evaluate import evaluate

    if (aflw_pts68 or aflw_list) and protocol != "aflw-3ddfa":
        raise click.UsageError("--aflw-pts68/--aflw-list need --protocol aflw-3ddfa")
    resolve_device(device)
    result = evaluate(checkpoint, shards, split, source_names_for(db, _csv(sources)), model_path, vertex_table,
                      out, batch_size, device, protocol=protocol, aflw_pts68=aflw_pts68, aflw_list=aflw_list)
    click.echo(result.markdown)


@train.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default="export", show_default=True, type=click.Path(file_okay=False),
              help="Folder for facenet_<output>.onnx/.pt2/.json.")
@click.option("--format", "formats", type=click.Choice(["pt2", "onnx", "both"]), default="both",
              show_default=True, help="ONNX (torch.export-based exporter) and/or torch.export's .pt2 program.")
@click.option("--output", type=click.Choice(["landmarks", "mesh"]), default="landmarks", show_default=True,
              help="What the graph outputs besides the pose: the trained landmarks or the full mesh.")
@click.option("--model", "model_path", type=click.Path(),
              help="Face model for --output mesh (default: the checkpoint's, checked against it).")
@click.option("--int8", "int8_shards", type=click.Path(exists=True),
              help="Also write facenet_landmarks.int8.onnx (static int8, per-channel weights), calibrated on "
                   "real crops of these shards, and print its NME change.")
@click.option("--calibration-split", default=CALIBRATION_SPLIT, show_default=True,
              help="Split of the --int8 shards to calibrate on.")
@click.option("--calibration-faces", type=click.IntRange(min=1), default=CALIBRATION_FACES, show_default=True,
              help="Crops to calibrate on, spread evenly over the split.")
@click.option("--int8-test", "int8_test", type=click.Path(exists=True),
              help="Shards on which the int8 NME change is measured (default: the --int8 shards).")
@click.option("--int8-test-split", default=TEST_SPLIT, show_default=True,
              help="Split of the --int8-test shards to measure on.")
@user_errors
def export_command(checkpoint, out, formats, output, model_path, int8_shards, calibration_split,
                   calibration_faces, int8_test, int8_test_split) -> None:
    """ONNX / torch.export (.pt2) of encoder + decoder (folded), checked against the eager model."""
    from .export import FORMATS, Int8Options, export

    if int8_test and not int8_shards:
        raise click.UsageError("--int8-test needs --int8")
    int8 = (Int8Options(int8_shards, calibration_split, calibration_faces, int8_test, int8_test_split)
            if int8_shards else None)
    report = export(checkpoint, out, FORMATS if formats == "both" else (formats,), output, model_path, int8=int8)
    for f in report.files:
        click.echo(f)
    for k, v in report.max_abs_diff.items():
        click.echo(f"{k}: max |exported − eager| = {v:.2e}")
    if report.int8 is not None:
        click.echo(report.int8.describe())


def parse_box(value: str | None) -> tuple[float, float, float, float] | None:
    """``x0,y0,x1,y1`` → four floats with x1 > x0 and y1 > y0."""
    if value is None:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"{value!r}: give four numbers x0,y0,x1,y1", "--box") from None
    if len(box) != 4:
        raise InputError(f"{value!r}: give four numbers x0,y0,x1,y1", "--box")
    if not (box[2] > box[0] and box[3] > box[1]) or not all(abs(v) < 1e7 for v in box):
        raise InputError(f"{value!r}: x1 must be larger than x0 and y1 than y0", "--box")
    return box


@train.command("reconstruct")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint of `train` (final.pt).")
@click.option("--out", default="reconstruct", show_default=True, type=click.Path(file_okay=False),
              help="Folder for <image>.json, .obj/.ply and _overlay.png.")
@click.option("--box", help="Face box x0,y0,x1,y1 in image pixels (default: the largest face the bundled "
                            "detector finds).")
@click.option("--detector", type=click.Path(exists=True, dir_okay=False),
              help="A YuNet face detector ONNX model (OpenCV FaceDetectorYN) to use instead of the bundled "
                   "detector.")
@click.option("--scheme", help="Landmark scheme to output (e.g. ibug68); default: the trained landmarks.")
@click.option("--model", "model_path", type=click.Path(),
              help="Face model (default: the checkpoint's, checked against it).")
@click.option("--vertex-table", help="JSON/YAML canonical name → vertex.")
@click.option("--mesh-format", type=click.Choice(["obj", "ply"]), default="obj", show_default=True,
              help="Mesh file format.")
@user_errors
def reconstruct_command(images, checkpoint, out, box, detector, scheme, model_path, vertex_table,
                        mesh_format) -> None:
    """Landmarks, pose angles, mesh and overlay for each image."""
    from .reconstruct import Failure, reconstruct

    results = reconstruct(images, checkpoint, out, parse_box(box), scheme, model_path, vertex_table, mesh_format,
                          progress=len(images) > 1, detector=detector)
    for r in results:
        if isinstance(r, Failure):
            click.echo(f"{r.image}: FAILED: {r.reason}")
            continue
        y, p, rl = r.yaw_pitch_roll
        click.echo(f"{r.image}: yaw {y:.1f} pitch {p:.1f} roll {rl:.1f} → {', '.join(r.files)}")
    failed = sum(isinstance(r, Failure) for r in results)
    click.echo(f"reconstructed {len(results) - failed} of {len(results)} images into {out}")
    if failed == len(results):
        raise click.ClickException("no image could be reconstructed")
