"""`train`: train on shards (``train --shards fused.h5 --model model.npz``), and the sub-commands
``train eval``, ``train export``, ``train reconstruct``. Heavy imports happen inside the commands."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import click


@contextmanager
def _user_file_errors() -> Iterator[None]:
    """A model or array file that is refused (pickled, damaged, not a model) ends the command with
    the loader's message, which names the file and why."""
    from landmark_fusion.facemodel.model import FaceModelError
    from landmark_fusion.safeload import ArrayFileError

    try:
        yield
    except (FaceModelError, ArrayFileError) as error:
        raise click.ClickException(str(error)) from None


def _csv(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


@click.group("train", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--shards", help="Shard file (.h5) or Parquet folder written by `fuse build`.")
@click.option("--model", "model_path", help="Face model (.npz, or any format `fuse model` reads).")
@click.option("--out", default="runs/train", show_default=True, help="Folder for checkpoints and logs.")
@click.option("--db", type=click.Choice(["A", "B", "C", "D"], case_sensitive=False),
              help="The paper's fusion database (§4.1): A=300W-LP, B=A+FaceWarehouse+LFW-74, C=B+WFLW, D=C+LS3D-W.")
@click.option("--sources", help="Comma-separated source names of the shards to train on (adds to --db).")
@click.option("--vertex-table", help="JSON/YAML canonical name → vertex (default: the model's table).")
@click.option("--width", type=float, default=1.0, show_default=True, help="MobileNet width (1.0 or 0.5).")
@click.option("--kc", "n_corr", type=int, default=20, show_default=True, help="K_c harmonics (0: no correction).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--steps", type=int, help="Total optimizer steps (overrides --epochs).")
@click.option("--per-source", type=int, help="Draws per source per epoch (default: smallest source).")
@click.option("--no-balance", is_flag=True, help="Plain shuffle instead of the balanced sampler.")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default="adamw", show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "step", "constant"]), default="cosine", show_default=True)
@click.option("--warmup-steps", type=int, default=0, show_default=True)
@click.option("--w-id", type=float, default=0.1, show_default=True)
@click.option("--w-exp", type=float, default=1.0, show_default=True)
@click.option("--w-c", type=float, default=10.0, show_default=True)
@click.option("--no-augment", is_flag=True)
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on GPU.")
@click.option("--device", default="auto", show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-every", type=int, default=0, help="Validate every N steps (0: each epoch).")
@click.option("--ckpt-every", type=int, default=0, help="Checkpoint every N steps (0: each epoch).")
@click.option("--resume", type=click.Path(exists=True), help="Continue a run from its last.pt.")
@click.option("--init", type=click.Path(exists=True), help="Start from these weights (fine-tuning).")
@click.option("--stop-after", type=int, help="Stop after N steps of this run (checkpointed).")
@click.option("--no-progress", is_flag=True)
@click.pass_context
def train(ctx: click.Context, **o) -> None:
    """Train the MobileNet-V1 encoder + model decoder on fused shards (Eq. 1), or run a sub-command."""
    if ctx.invoked_subcommand is not None:
        return
    if not o["resume"] and not (o["shards"] and o["model_path"]):
        raise click.UsageError("give --shards and --model (or --resume CKPT)")
    from .loop import TrainConfig, train as run

    cfg = TrainConfig(
        shards=o["shards"] or "", model=o["model_path"] or "", out=o["out"], db=o["db"],
        sources=_csv(o["sources"]), vertex_table=o["vertex_table"], width=o["width"], n_corr=o["n_corr"],
        batch_size=o["batch_size"], epochs=o["epochs"], steps=o["steps"], per_source=o["per_source"],
        balanced=not o["no_balance"], optimizer=o["optimizer"], lr=o["lr"], weight_decay=o["weight_decay"],
        schedule=o["schedule"], warmup_steps=o["warmup_steps"], w_id=o["w_id"], w_exp=o["w_exp"],
        w_c=o["w_c"], augment=not o["no_augment"], amp=not o["no_amp"], device=o["device"],
        workers=o["workers"], seed=o["seed"], val_every=o["val_every"], ckpt_every=o["ckpt_every"],
        resume=o["resume"], init=o["init"], stop_after=o["stop_after"], progress=not o["no_progress"])
    with _user_file_errors():
        result = run(cfg)
    click.echo(f"checkpoint: {result.checkpoint}")
    for src, nme in result.val.items():
        click.echo(f"val NME {src}: {nme:.2f} %")


@train.command("eval")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--shards", required=True, help="Shard file or folder to evaluate on.")
@click.option("--split", default="test", show_default=True)
@click.option("--db", type=click.Choice(["A", "B", "C", "D"], case_sensitive=False))
@click.option("--sources", help="Comma-separated source names (default: all).")
@click.option("--model", "model_path", help="Face model (default: the one the checkpoint was trained with).")
@click.option("--vertex-table", help="JSON/YAML canonical name → vertex.")
@click.option("--protocol", type=click.Choice(["all", "aflw-3ddfa"]), default="all", show_default=True,
              help="aflw-3ddfa: 3DDFA's AFLW protocol (AFLW points composed from the predicted 68; "
                   "sources default to aflw).")
@click.option("--aflw-pts68", type=click.Path(exists=True, dir_okay=False),
              help="aflw-3ddfa: 3DDFA's AFLW_GT_pts68.npy for the 68-point-box normaliser "
                   "(AFLW_GT_crop_roi_box.npy must lie beside it).")
@click.option("--aflw-list", type=click.Path(exists=True, dir_okay=False),
              help="AFLW_GT_crop.list giving the row order of --aflw-pts68 "
                   "(default: ../test.data/AFLW_GT_crop.list from its folder).")
@click.option("--out", help="Folder for results.md/.csv, per_landmark.csv/.png.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
def eval_command(checkpoint, shards, split, db, sources, model_path, vertex_table, protocol, aflw_pts68, aflw_list,
                 out, device, batch_size) -> None:
    """NME per database and |yaw| bucket (3DDFA protocol) beside the mean-shape baseline."""
    from .data import source_names_for
    from .evaluate import evaluate

    if (aflw_pts68 or aflw_list) and protocol != "aflw-3ddfa":
        raise click.UsageError("--aflw-pts68/--aflw-list need --protocol aflw-3ddfa")
    with _user_file_errors():
        result = evaluate(checkpoint, shards, split, source_names_for(db, _csv(sources)), model_path,
                          vertex_table, out, batch_size, device, protocol=protocol, aflw_pts68=aflw_pts68,
                          aflw_list=aflw_list)
    click.echo(result.markdown)


@train.command("export")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--out", default="export", show_default=True)
@click.option("--format", "formats", type=click.Choice(["torchscript", "onnx", "both"]), default="both",
              show_default=True)
@click.option("--output", type=click.Choice(["landmarks", "mesh"]), default="landmarks", show_default=True)
@click.option("--model", "model_path", help="Face model (default: the checkpoint's).")
def export_command(checkpoint, out, formats, output, model_path) -> None:
    """TorchScript / ONNX of encoder + decoder, checked against the eager model."""
    from .export import export

    fmts = ("torchscript", "onnx") if formats == "both" else (formats,)
    with _user_file_errors():
        report = export(checkpoint, out, fmts, output, model_path)
    for f in report.files:
        click.echo(f)
    for k, v in report.max_abs_diff.items():
        click.echo(f"{k}: max |exported − eager| = {v:.2e}")


@train.command("reconstruct")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--checkpoint", required=True, type=click.Path(exists=True))
@click.option("--out", default="reconstruct", show_default=True)
@click.option("--box", help="Face box x0,y0,x1,y1 in image pixels (default: detect the largest face).")
@click.option("--detector", type=click.Path(exists=True, dir_okay=False),
              help="YuNet face detector ONNX model (OpenCV FaceDetectorYN) for images without --box; "
                   "default: OpenCV's bundled Haar cascade where the installed OpenCV has one.")
@click.option("--scheme", help="Landmark scheme to output (e.g. ibug68); default: the trained landmarks.")
@click.option("--model", "model_path", help="Face model (default: the checkpoint's).")
@click.option("--vertex-table", help="JSON/YAML canonical name → vertex.")
@click.option("--mesh-format", type=click.Choice(["obj", "ply"]), default="obj", show_default=True)
def reconstruct_command(images, checkpoint, out, box, detector, scheme, model_path, vertex_table,
                        mesh_format) -> None:
    """Landmarks, pose angles, mesh and overlay for each image."""
    from .reconstruct import reconstruct

    b = tuple(float(v) for v in box.split(",")) if box else None
    if b is not None and len(b) != 4:
        raise click.BadParameter("--box needs x0,y0,x1,y1")
    from .reconstruct import Failure

    with _user_file_errors():
        results = reconstruct(images, checkpoint, out, b, scheme, model_path, vertex_table, mesh_format,
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
