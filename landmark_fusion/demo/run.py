"""`fuse demo`'s fusion part: synthetic mini-databases in every native format → roots.yaml → build →
stats → contact sheet. Everything runs offline; nothing is downloaded.

The steps after it (a short training, its evaluation, the ONNX export and one reconstruction) belong
to the trainer; the ``fuse`` command at the top of the project composes them with this part, handing
them the :class:`DemoResult` (its shards, its databases) and :func:`face_model_file` and
:func:`reconstruction_target` (what to train with and what to reconstruct). This package never calls
them (docs/architecture.md).
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .databases import DATABASES, Job, plan_jobs, render_job, write_database


@dataclass
class DemoResult:
    """Where the demo put everything and how long each step took; the steps composed after the fusion
    part add their outputs, times and failure here, so that one summary lists them all."""

    out: Path
    shards: Path                                               # the fused shards (DIR/fused.h5)
    databases: dict[str, Path] = field(default_factory=dict)   # database → its mini-database folder
    outputs: dict[str, Path] = field(default_factory=dict)     # what → where
    faces: dict[str, int] = field(default_factory=dict)        # database → rendered faces
    seconds: dict[str, float] = field(default_factory=dict)    # step → wall time
    notes: list[str] = field(default_factory=list)
    train_seconds: dict[str, float] = field(default_factory=dict)  # part of the training step → time
    failed: str | None = None                                        # why the training step failed

    def summary(self) -> str:
        lines = [(f"demo {'finished' if self.failed is None else 'FAILED'} in {sum(self.seconds.values()):.1f} s "
                 f"({', '.join(f'{k} {v:.1f} s' for k, v in self.seconds.items())})")]
        if self.train_seconds:
            lines.append("training step: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.train_seconds.items()))
        lines.append("faces rendered: " + ", ".join(f"{db} {n}" for db, n in self.faces.items()))
        lines.append("outputs:")
        width = max((len(w) for w in self.outputs), default=0)
        lines += [f"  {what:<{width}}  {path}" for what, path in self.outputs.items()]
        lines += [f"note: {n}" for n in self.notes]
        if self.failed is not None:
            lines.append(f"error: {self.failed}")
        return "\n".join(lines)


def render_all(jobs: list[Job], model_path: str | None, workers: int, progress: bool):
    """Render every job, in worker processes when ``workers`` > 1, with a progress bar."""
    from functools import partial

    from ..progress import progress as progress_bar

    bar = progress_bar(total=len(jobs), desc="render", unit="job", disable=not progress)
    results: list = [None] * len(jobs)
    task = partial(render_job, model_path=model_path)
    if workers > 1:
        import os
        from concurrent.futures import ProcessPoolExecutor

        from ..lifetime import deferred_iteration, signals_deferred

        pool = ProcessPoolExecutor(workers, initializer=_init_renderer, initargs=(model_path, os.getpid()))
        try:
            with signals_deferred():  # the processes are forked here
                rendered = pool.map(task, jobs, chunksize=4)
            for i, faces in enumerate(deferred_iteration(rendered)):  # no signal inside a queue's lock
                results[i] = faces
                bar.update()
        finally:  # stopped (Ctrl-C, SIGTERM) or failed: the jobs not yet rendered are dropped
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for i, job in enumerate(jobs):
            results[i] = task(job)
            bar.update()
    bar.close()
    return results


def _init_renderer(model_path: str | None, parent: int) -> None:
    """A rendering process: ends with the demo (also after SIGKILL), leaves Ctrl-C to it."""
    import signal

    from ..lifetime import TERMINATING, end_with
    from .databases import _init

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in TERMINATING:  # a forked process inherits the demo's handlers: back to the default
        signal.signal(number, signal.SIG_DFL)
    end_with(parent)
    _init(model_path)


def write_roots(out: Path, entries: dict[str, dict]) -> Path:
    import yaml

    path = out / "roots.yaml"
    text = "# Written by `fuse demo`: the synthetic mini-databases (not real data).\n"
    text += yaml.safe_dump({db: str(Path(e["path"]).relative_to(out)) for db, e in entries.items()},
                           sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def run_demo(out: str | Path, faces: int = 300, model_path: str | None = None, seed: int = 0,
             workers: int = 2, progress: bool = True, log: Callable[[str], None] = print) -> DemoResult:
    """Run the demo's fusion part into ``out``; returns where everything went."""
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import load_roots

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out, shards=out / "fused.h5")

    t0 = time.perf_counter()
    jobs = plan_jobs(faces, seed)
    rendered = render_all(jobs, None if model_path is None else str(model_path), workers, progress)
    by_db: dict[str, list] = defaultdict(list)
    for job, fx in zip(jobs, rendered, strict=False):
        by_db[job.database].extend(fx)
    result.seconds["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    entries = {}
    for db in DATABASES:
        entries[db] = write_database(db, out / "databases" / db, by_db[db])
        result.faces[db] = len(by_db[db])
        result.databases[db] = Path(entries[db]["path"])
    roots_path = write_roots(out, entries)
    result.outputs["databases"] = out / "databases"
    result.outputs["roots.yaml"] = roots_path
    result.seconds["write"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    roots = list(load_roots(roots_path).values())
    settings = BuildSettings(workers=workers if workers > 1 else 0, progress=progress,
                             overwrite=True)  # the demo's own folder: its earlier shards go
    report = build_shards(roots, result.shards, settings)
    log(report.table())
    result.outputs["fused shards"] = result.shards
    result.seconds["build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result.outputs.update(_stats_and_sheet(result.shards, out, log))
    result.seconds["stats"] = time.perf_counter() - t0
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


def face_model_file(out: Path, model_path: str | Path | None) -> Path:
    """The face model the demo's faces were rendered with, as a file: ``model_path``, or the built-in
    synthetic face written to ``out/synthetic_model.npz``."""
    if model_path is not None:
        return Path(model_path)
    from .synthetic_model import synthetic_model

    path = out / "synthetic_model.npz"
    synthetic_model().model.save(str(path))
    return path


def reconstruction_target(shards: Path, roots: dict[str, Path]) -> tuple[Path, tuple[float, float, float, float]]:
    """One demo test image and its face box: the first test face of AFLW2000-3D (else of any source).
    The box is the square the fusion stage cropped, shrunk by the crop margin, so the trainer's
    reconstruction crops the face as in training."""
    import numpy as np

    from landmark_fusion.shards import open_shards

    s = open_shards(shards)
    meta = s.meta()
    test = meta[meta["split"] == "test"]
    if test.empty:
        test = meta
    pick = test[test["source"] == "aflw2000_3d"]
    row = int((pick if not pick.empty else test).index[0])
    face = s.get(row)
    size = face["images"].shape[0]
    c2i = np.asarray(face["crop_to_image"], np.float64)
    corners = c2i @ np.array([[-0.5, -0.5, 1.0], [size - 0.5, size - 0.5, 1.0]]).T  # crop edges in image
    margin = float(getattr(getattr(s, "info", None), "margin", 0.25))
    centre = corners.mean(axis=1)
    half = (corners[0, 1] - corners[0, 0]) / (1 + 2 * margin) / 2
    left, top, right, bottom = (round(float(v), 3) for v in
                                (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
    source = str(meta.loc[row, "source"])
    return Path(roots[source]) / str(meta.loc[row, "sample_id"]), (left, top, right, bottom)
