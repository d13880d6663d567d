"""The training part of ``fuse demo``: a short training on the demo's shards, the evaluation table, the
ONNX export and the reconstruction of one demo image, all written into the demo folder.

``fuse demo`` (cli.py at the top of the project) calls :func:`run` after the fusion part, in the
same process, with the shards, face model, image and box that part made; ``landmark_fusion`` itself
never calls the trainer (docs/architecture.md). :func:`run` uses only the trainer's own Python API
(``loop.train``, ``evaluate.evaluate``, ``export.export``, ``reconstruct.reconstruct``) and returns
what it wrote where (:class:`DemoOutputs`). ``python -m trainer.demo DIR --model M --image I --box B``
runs it alone on a demo folder.
"""
from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

#: The trainer's short-training preset for the demo's rendered faces (trainer/config.py PRESETS).
DEMO_PRESET = "demo-cpu"
#: Steps of the demo's training: enough that the network beats the mean face by at least half on every
#: database of the demo (800 steps did not on the near-frontal ones: docs/benchmarks.md "demo"), few
#: enough that the whole ``fuse demo`` (render, build, stats, training, evaluation, export,
#: reconstruction) stays within 5 minutes on 2 CPU cores.
DEMO_STEPS = 1600
#: One torch thread: a step of this small network is a fraction of a second, and on a machine whose
#: cores are busy with other jobs two threads made it ten times slower (measured, docs/benchmarks.md).
DEMO_THREADS = 1


@dataclass
class DemoTraining:
    """What the demo's training step changes in the preset (None: the preset's value)."""

    steps: int | None = DEMO_STEPS
    width: float | None = None
    batch_size: int | None = None
    seed: int = 0
    progress: bool = True
    threads: int | None = DEMO_THREADS  # torch CPU threads (None: torch's default)


@dataclass
class DemoOutputs:
    """What the training part wrote where (what → path, in the order written) and how long each of its
    parts took (train, eval, export, reconstruct → seconds)."""

    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def train_config(shards: Path, model: Path, run_dir: Path, s: DemoTraining, has_val: bool):
    """The TrainConfig of the demo: the trainer's ``demo-cpu`` preset, with the demo's length (and width
    or batch when asked); one validation (when the shards have a val split) and one checkpoint, at
    the end; no TensorBoard."""
    from .config import PRESETS, preset_config

    preset = PRESETS[DEMO_PRESET]
    steps = s.steps or preset.get("steps") or DEMO_STEPS
    batch = s.batch_size or preset.get("batch_size", 16)
    options = {"width": s.width} if s.width else {}
    return preset_config(DEMO_PRESET, shards=str(shards), model=str(model), out=str(run_dir), steps=steps,
                         batch_size=batch, seed=s.seed, per_source=draws_per_source(shards, batch),
                         val_split="val" if has_val else None, val_every=steps, ckpt_every=steps,
                         progress=s.progress, tensorboard=False, device="auto", **options)


def splits_present(shards: Path) -> list[str]:
    """The evaluation splits the shards hold, in the order test, val."""
    from .data import open_shard_set

    present = set(open_shard_set(str(shards)).meta()["split"])
    return [s for s in ("test", "val") if s in present]


def draws_per_source(shards: Path, batch_size: int) -> int | None:
    """Draws per source per epoch: the largest source's training faces (smaller sources are repeated),
    at least one batch. The demo's sources are small (10 to 120 training faces): with the sampler's
    default (the smallest source's count) an epoch would last 3 steps, and the DataLoader, made anew
    each epoch, would restart its worker process every 3 steps."""
    import math

    from .data import open_shard_set

    meta = open_shard_set(str(shards)).meta()
    counts = meta[meta["split"] == "train"].groupby("source").size()
    if counts.empty:
        return None
    return max(int(counts.max()), math.ceil(batch_size / len(counts)))


def summary_table(split: str, rows: Sequence) -> str:
    """The demo's short view of an evaluation: per database the faces, the per-face NME, the mean-shape
    baseline and their ratio (the full table, with each row's landmarks, is in results.md / the CSV)."""
    lines = [f"per-face NME (%) on split {split} (landmarks per row: evaluation.csv):",
             f"  {'database':<14}{'faces':>6}{'network':>10}{'baseline':>10}{'ratio':>8}"]
    for r in rows:
        ratio = r.face_mean / r.base_face_mean if r.base_face_mean else float("nan")
        lines.append(f"  {r.database:<14}{r.faces:>6}{r.face_mean:>10.2f}{r.base_face_mean:>10.2f}{ratio:>8.2f}")
    return "\n".join(lines)


def write_evaluation_csv(tables: dict[str, list[list[str]]], path: Path) -> Path:
    """One CSV for all splits: a ``split`` column, then the columns of ``train eval``'s results.csv."""
    from .evaluate import TABLE_COLUMNS

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", *TABLE_COLUMNS])
        for split, rows in tables.items():
            w.writerows([split, *row] for row in rows)
    return path


def run(demo_dir: str | Path, model: str | Path, image: str | Path, box: Sequence[float],
        settings: DemoTraining | None = None, shards: str | Path | None = None,
        log: Callable[[str], None] = print) -> DemoOutputs:
    """Train, evaluate, export and reconstruct into ``demo_dir`` (``demo_dir/training`` is made afresh);
    returns what was written where."""
    from .evaluate import evaluate, table_rows
    from .export import export
    from .loop import train
    from .reconstruct import Failure, reconstruct

    settings = settings or DemoTraining()
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    out = Path(demo_dir).resolve()
    shards = Path(shards) if shards is not None else out / "fused.h5"
    run_dir = out / "training"
    if run_dir.is_dir():  # a previous demo's run: its logs would be appended to, its outputs listed
        shutil.rmtree(run_dir)
    outputs: dict[str, Path] = {}
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    splits = splits_present(shards)
    cfg = train_config(shards, Path(model), run_dir, settings, "val" in splits)
    log(f"training (preset {DEMO_PRESET}): {cfg.steps} steps of {cfg.batch_size}, width {cfg.width}, "
        f"lr {cfg.lr:g}, split train"
        + (", validation on val" if "val" in splits else " (the shards have no val split)"))
    result = train(cfg)
    checkpoint = run_dir / "final.pt"
    outputs["training run"] = run_dir
    outputs["checkpoint"] = checkpoint
    for src, nme in result.val.items():
        log(f"val NME {src}: {nme:.2f} %")
    seconds["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tables = {}
    for split in splits:
        ev = evaluate(str(checkpoint), str(shards), split, out=str(out / "evaluation" / split))
        log(summary_table(split, ev.rows))
        tables[split] = table_rows(ev.rows)
    outputs["evaluation CSV"] = write_evaluation_csv(tables, out / "evaluation.csv")
    outputs["evaluation tables"] = out / "evaluation"
    seconds["eval"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = export(str(checkpoint), str(run_dir / "export"), formats=("onnx",))
    for src in report.files:
        dst = out / ("network" + Path(src).suffix)
        shutil.copyfile(src, dst)
        outputs["ONNX network" if dst.suffix == ".onnx" else "ONNX network info"] = dst
    log(f"export: max |onnx - eager| = {report.max_abs_diff['onnx']:.2e} px")
    seconds["export"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rec_dir = run_dir / "reconstruction"
    rec = reconstruct([str(image)], str(checkpoint), str(rec_dir), box=tuple(box))[0]
    if isinstance(rec, Failure):
        raise RuntimeError(f"reconstruction of the demo image failed: {rec.reason}")
    for src in rec.files:
        tail = Path(src).name[len(Path(image).stem):]  # ".obj", "_overlay.png", ".json"
        dst = out / f"reconstruction{tail}"
        shutil.copyfile(src, dst)
        outputs[{".obj": "reconstructed mesh", "_overlay.png": "reconstruction overlay",
                 ".json": "reconstruction landmarks"}.get(tail, f"reconstruction{tail}")] = dst
    yaw, pitch, roll = rec.yaw_pitch_roll
    log(f"reconstruction of {image}: yaw {yaw:.1f}°, pitch {pitch:.1f}°, roll {roll:.1f}°")
    seconds["reconstruct"] = time.perf_counter() - t0

    return DemoOutputs(outputs, seconds)


@click.command("demo-train")
@click.argument("demo_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Face model npz (the demo's synthetic_model.npz); its vertex table is found by name.")
@click.option("--image", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Demo image to reconstruct.")
@click.option("--box", required=True, help="Its face box x0,y0,x1,y1 in image pixels.")
@click.option("--shards", type=click.Path(exists=True), help="Shards (default: DIR/fused.h5).")
@click.option("--steps", type=click.IntRange(min=1), default=DEMO_STEPS, show_default=True,
              help="Optimizer steps.")
@click.option("--width", type=float, help=f"MobileNet width (default: the {DEMO_PRESET} preset's).")
@click.option("--batch-size", type=click.IntRange(min=1), help=f"Batch (default: the {DEMO_PRESET} preset's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=DEMO_THREADS, show_default=True,
              help="torch CPU threads.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def main(demo_dir: Path, model: str, image: str, box: str, shards: str | None, steps: int, width: float | None,
         batch_size: int | None, seed: int, threads: int | None, progress: bool) -> None:
    """Short training, evaluation, ONNX export and one reconstruction inside a `fuse demo` folder."""
    b = tuple(float(v) for v in box.split(","))
    if len(b) != 4:
        raise click.BadParameter("--box needs x0,y0,x1,y1")
    settings = DemoTraining(steps, width, batch_size, seed, progress, threads)
    written = run(demo_dir, model, image, b, settings, shards, log=click.echo)
    width = max(len(what) for what in written.outputs)
    for what, path in written.outputs.items():
        click.echo(f"  {what:<{width}}  {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
