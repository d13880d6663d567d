"""`fuse demo`: synthetic mini-databases in every native format → roots.yaml → build → stats →
contact sheet (→ a short training, its evaluation, ONNX export and one reconstruction, when the
trainer provides them). Everything runs offline; nothing is downloaded.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .databases import DATABASES, Job, plan_jobs, render_job, write_database

TRAIN_STEPS = ("eval", "export", "reconstruct")


@dataclass
class DemoResult:
    out: Path
    outputs: dict[str, Path] = field(default_factory=dict)   # what → where
    faces: dict[str, int] = field(default_factory=dict)      # database → rendered faces
    seconds: dict[str, float] = field(default_factory=dict)  # step → wall time
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"demo finished in {sum(self.seconds.values()):.1f} s "
                 f"({', '.join(f'{k} {v:.1f} s' for k, v in self.seconds.items())})",
                 "faces rendered: " + ", ".join(f"{db} {n}" for db, n in self.faces.items())]
        lines += [f"  {what:<16} {path}" for what, path in self.outputs.items()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def render_all(jobs: list[Job], model_path: str | None, workers: int, progress: bool):
    """Render every job, in worker processes when ``workers`` > 1, with a progress bar."""
    from functools import partial

    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="render", unit="job", disable=not progress)
    results: list = [None] * len(jobs)
    task = partial(render_job, model_path=model_path)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        from .databases import _init

        with ProcessPoolExecutor(workers, initializer=_init, initargs=(model_path,)) as pool:
            for i, faces in enumerate(pool.map(task, jobs, chunksize=4)):
                results[i] = faces
                bar.update()
    else:
        for i, job in enumerate(jobs):
            results[i] = task(job)
            bar.update()
    bar.close()
    return results


def write_roots(out: Path, entries: dict[str, dict]) -> Path:
    import yaml

    path = out / "roots.yaml"
    text = "# Written by `fuse demo`: the synthetic mini-databases (not real data).\n"
    text += yaml.safe_dump({db: str(Path(e["path"]).relative_to(out)) for db, e in entries.items()},
                           sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _trainer_commands() -> dict | None:
    """The trainer's click commands, if the trainer provides what the demo needs."""
    try:
        from trainer.cli import train
    except Exception:  # noqa: BLE001 - an unfinished trainer must not break the fusion demo
        return None
    commands = getattr(train, "commands", {})
    fit = next((commands[n] for n in ("fit", "run", "start") if n in commands), None)
    if fit is None or not all(step in commands for step in TRAIN_STEPS):
        return None
    return {"fit": fit, **{step: commands[step] for step in TRAIN_STEPS}}


def run_demo(out: str | Path, faces: int = 300, model_path: str | None = None, seed: int = 0,
             train: bool = True, workers: int = 2, progress: bool = True,
             log: Callable[[str], None] = print) -> DemoResult:
    """Run the whole demo into ``out``; returns where everything went."""
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import load_roots

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)

    t0 = time.perf_counter()
    jobs = plan_jobs(faces, seed)
    rendered = render_all(jobs, None if model_path is None else str(model_path), workers, progress)
    by_db: dict[str, list] = defaultdict(list)
    for job, fx in zip(jobs, rendered):
        by_db[job.database].extend(fx)
    result.seconds["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    entries = {}
    for db in DATABASES:
        entries[db] = write_database(db, out / "databases" / db, by_db[db])
        result.faces[db] = len(by_db[db])
    roots_path = write_roots(out, entries)
    result.outputs["databases"] = out / "databases"
    result.outputs["roots.yaml"] = roots_path
    result.seconds["write"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    shards = out / "fused.h5"
    roots = list(load_roots(roots_path).values())
    report = build_shards(roots, shards, BuildSettings(workers=workers if workers > 1 else 0, progress=progress))
    log(report.table())
    result.outputs["fused shards"] = shards
    result.seconds["build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result.outputs.update(_stats_and_sheet(shards, out, log))
    result.seconds["stats"] = time.perf_counter() - t0

    if train:
        t0 = time.perf_counter()
        commands = _trainer_commands()
        if commands is None:
            result.notes.append("the trainer is not available yet: training, evaluation, export and "
                                "reconstruction were skipped")
        else:
            result.outputs.update(_train(commands, shards, out, seed, log))
        result.seconds["train"] = time.perf_counter() - t0
    return result


def _stats_and_sheet(shards: Path, out: Path, log) -> dict[str, Path]:
    from landmark_fusion.preview import draw_contact_sheet
    from landmark_fusion.shards import open_shards
    from landmark_fusion.stats import coverage, format_csv, plot_heatmap

    outputs = {}
    s = open_shards(shards)
    cov = coverage(s)
    log(f"coverage: {len(cov.landmark_names)} landmarks over {len(s)} faces (table in coverage.csv)")
    (out / "coverage.csv").write_text(format_csv(cov), encoding="utf-8")
    outputs["coverage table"] = out / "coverage.csv"
    try:
        plot_heatmap(cov, out / "coverage.png")
        outputs["coverage heatmap"] = out / "coverage.png"
    except Exception as error:  # noqa: BLE001 - the plot is a nicety
        log(f"coverage heatmap skipped: {error}")
    outputs["contact sheet"] = draw_contact_sheet(s, out / "contact_sheet.png", n=24)
    return outputs


def _train(commands: dict, shards: Path, out: Path, seed: int, log) -> dict[str, Path]:
    """A short training, its evaluation table, the ONNX export and one reconstruction."""
    run = out / "training"
    steps = {
        "fit": ["--shards", str(shards), "--out", str(run), "--epochs", "1", "--seed", str(seed)],
        "eval": ["--shards", str(shards), "--checkpoint", str(run), "--out", str(out / "evaluation.csv")],
        "export": ["--checkpoint", str(run), "--out", str(out / "network.onnx")],
        "reconstruct": ["--checkpoint", str(run), "--image", str(_demo_image(out)),
                        "--out", str(out / "reconstruction.obj")],
    }
    outputs = {}
    for step, args in steps.items():
        try:
            commands[step].main(args, standalone_mode=False)
        except Exception as error:  # noqa: BLE001 - report and go on with what works
            log(f"train {step} failed: {error}")
            continue
        target = Path(args[args.index("--out") + 1])
        outputs[{"fit": "training run", "eval": "evaluation CSV", "export": "ONNX network",
                 "reconstruct": "reconstructed mesh"}[step]] = target
    return outputs


def _demo_image(out: Path) -> Path:
    """One demo test image to reconstruct (an AFLW2000-3D style one)."""
    return sorted((out / "databases" / "aflw2000_3d").rglob("*.jpg"))[0]
