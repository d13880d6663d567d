"""The paper's fusion gain in miniature, on real photographs.

    python bench/real_fusion.py --roots ROOTS --out DIR [--minutes M] [--model MODEL.npz]

ROOTS names the folders of ``300w_lp``, ``aflw`` (3DDFA's 21,080 crops with their arrays) and
``aflw2000_3d``. The script

1. writes ``DIR/roots.yaml``: the user's folders with the experiment's split declarations
   (AFLW2000-3D all test, bucketed by AFLW's yaw labels; AFLW: the crops of AFLW2000-3D photos
   left out, a fixed seeded AFLW-test, the rest AFLW-train);
2. builds ``DIR/shards.h5`` with ``fuse build``'s own code;
3. trains four networks with the same seed and step budget: train set **A** (300W-LP) and **F**
   (A + AFLW-train), each without (N) and with (Y) the Manifold-Harmonics correction;
4. evaluates each on AFLW2000-3D (68 points, 3DDFA's protocol) and AFLW-test (3DDFA's 21-point
   protocol, visible points) beside the mean-shape baseline, and writes ``DIR/results.csv``
   (``train_set,correction,test_set,bucket,faces,nme,baseline_nme``), ``DIR/tables.md`` (the
   paper's Table 2 layout), ``DIR/per_landmark.png`` and ``DIR/contact_sheet.png`` (best, median
   and worst AFLW2000-3D faces of the best run).

The step budget comes from ``--minutes`` through a short timed calibration, unless ``--steps`` is
given; the settings used are printed and written to ``DIR/settings.json``. docs/benchmarks.md
("fusion on real faces") has the numbers and the reasons for the settings.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO.parent / "shared" / "models" / "ict-facekit" / "ict_facekit_face.npz"
NEEDED = ("300w_lp", "aflw", "aflw2000_3d")
TRAIN_SETS = {"A": ("300w_lp",), "F": ("300w_lp", "aflw")}
CORRECTION = {"N": 0, "Y": 20}
#: test set -> (source in the shards, evaluation protocol of ``train eval``)
TEST_SETS = {"AFLW2000-3D": ("aflw2000_3d", "all"), "AFLW-test": ("aflw", "aflw-3ddfa")}
BUCKETS = ("0-30", "30-60", "60-90", "mean")
#: the training settings every run shares (besides shards, model, sources, K_c, steps); chosen for a
#: 2-core CPU and tuned with 1,200-step runs on A and F (docs/benchmarks.md "fusion on real faces"):
#: lr 1e-2 beat 2e-3 and 5e-3; light geometric augmentation beat the default (rotation 15°, photometric)
RECIPE: dict[str, Any] = {"width": 0.5, "batch_size": 32, "lr": 1e-2, "warmup_steps": 50,
                          "schedule": "cosine", "workers": 0, "max_val": 300,
                          "rotate_deg": 5.0, "photometric": 0.0, "scale_min": 0.95, "scale_max": 1.05,
                          "shift_frac": 0.02}
#: seconds of the budget kept for building and drawing, and for each run's two evaluations (measured:
#: build 17 s; the evaluations 3-4 minutes a run on 2 busy cores)
OVERHEAD_S = 120.0
EVALUATION_S = 240.0
CALIBRATION_STEPS = 120
CALIBRATION_WARMUP = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--roots", required=True, type=Path, help="roots.yaml naming 300w_lp, aflw, aflw2000_3d")
    p.add_argument("--out", required=True, type=Path, help="folder for shards, runs and results")
    p.add_argument("--minutes", type=float, default=90.0,
                   help="wall-clock budget of the whole experiment (default 90)")
    p.add_argument("--steps", type=int, help="optimizer steps per run (default: fitted to --minutes)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="face model npz (default: ICT-FaceKit)")
    p.add_argument("--aflw-test", type=int, default=2000, help="AFLW-test photos (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--runs", default="A:N,A:Y,F:N,F:Y", help="runs as TRAIN_SET:CORRECTION, comma separated")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training setting of every run (YAML value), e.g. --set width=1.0")
    return p.parse_args(argv)


def experiment_roots(user_roots: Path, out: Path, aflw_test: int, seed: int) -> Path:
    """``out/roots.yaml``: the user's folders for the three databases with the split declarations."""
    import yaml

    from landmark_fusion.roots import load_roots

    roots = load_roots(user_roots)
    missing = [name for name in NEEDED if name not in roots]
    if missing:
        raise SystemExit(f"{user_roots}: needs {', '.join(missing)} (it has {', '.join(roots)})")
    aflw = roots["aflw"].path
    entries = {
        "300w_lp": {"path": str(roots["300w_lp"].path)},
        "aflw": {"path": str(aflw), "split": {"default": "train", "rules": [
            {"split": "aflw2000_3d", "same_image_as": "aflw2000_3d"},
            {"split": "test", "hold_out": aflw_test, "seed": seed}]}},
        "aflw2000_3d": {"path": str(roots["aflw2000_3d"].path), "split": "test", "options": {
            "yaw_labels": {"values": str(aflw / "test.configs/AFLW_GT_crop_yaws.npy"),
                           "names": str(aflw / "test.data/AFLW_GT_crop.list")}}},
    }
    path = out / "roots.yaml"
    path.write_text("# written by bench/real_fusion.py\n" + yaml.safe_dump(entries, sort_keys=False))
    return path


def build(roots_file: Path, shards: Path) -> dict:
    """Build the shards (kept when a complete earlier build of the same roots file is there)."""
    from landmark_fusion.build import BuildSettings, build_shards, report_paths
    from landmark_fusion.roots import load_roots, select_sources

    report_json = report_paths(shards)[0]
    if shards.exists() and report_json.is_file():
        report = json.loads(report_json.read_text())
        if report.get("status") == "ok":
            print(f"shards: reusing {shards}")
            return report
    roots = select_sources(load_roots(roots_file), "all")
    build_shards(roots, shards, BuildSettings(workers=min(2, os.cpu_count() or 1), progress=False,
                                              overwrite=True))
    return json.loads(report_json.read_text())


def train_config(args: argparse.Namespace, shards: Path, out: Path, train_set: str, correction: str,
                 steps: int, recipe: dict[str, Any]):
    from trainer.config import TrainConfig

    return TrainConfig(shards=str(shards), model=str(args.model), out=str(out),
                       sources=TRAIN_SETS[train_set], n_corr=CORRECTION[correction], steps=steps,
                       seed=args.seed, device=args.device, progress=False, tensorboard=False,
                       val_every=steps, ckpt_every=steps, **recipe)


def calibrate(args: argparse.Namespace, shards: Path, out: Path, recipe: dict[str, Any]) -> float:
    """Seconds per optimizer step of the F run with correction (the slowest), measured as the
    difference of a short and a longer run, so that the set-up (model, decoder, shards) does not count
    as steps. A first short run is discarded: the process's one-time costs (lazy imports, the first
    kernels, the shard file's first pages) fell into the short run alone and made the difference
    several times too small (0.048 s measured against 0.14 s per step in the runs that followed)."""
    from trainer.loop import train

    seconds = []
    for steps in (CALIBRATION_WARMUP, CALIBRATION_STEPS // 6, CALIBRATION_STEPS):
        cfg = train_config(args, shards, out / f"calibration-{steps}", "F", "Y", steps, recipe)
        started = time.perf_counter()
        train(cfg)
        seconds.append(time.perf_counter() - started)
    return max(seconds[2] - seconds[1], 1e-3) / (CALIBRATION_STEPS - CALIBRATION_STEPS // 6)


def evaluate_run(checkpoint: Path, shards: Path, out: Path) -> dict[str, Any]:
    """Test set -> the evaluation's table row (and the per-landmark table of AFLW2000-3D)."""
    from trainer.evaluate import evaluate

    rows: dict[str, Any] = {}
    for name, (source, protocol) in TEST_SETS.items():
        result = evaluate(str(checkpoint), str(shards), "test", [source], out=str(out / source),
                          protocol=protocol)
        rows[name] = result.rows[0]
        if source == "aflw2000_3d":
            rows["per_landmark"] = result.per_landmark
    return rows


def results_rows(runs: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of results.csv."""
    lines = []
    for (train_set, correction), rows in runs.items():
        for test_set in TEST_SETS:
            row = rows[test_set]
            values = [(m, n) for m, n in row.buckets] + [(row.bucket_mean, row.faces)]
            bases = list(row.base_buckets) + [row.base_bucket_mean]
            for bucket, (nme, faces), base in zip(BUCKETS, values, bases, strict=False):
                lines.append({"train_set": train_set, "correction": correction, "test_set": test_set,
                              "bucket": bucket, "faces": faces, "nme": round(float(nme), 3),
                              "baseline_nme": round(float(base), 3)})
    return lines


def table2(lines: list[dict[str, Any]]) -> str:
    """Markdown in the layout of the paper's Table 2: one row per train set and correction."""
    head = ["Database", "Use correction"] + [f"{t} {b}" for t in TEST_SETS for b in BUCKETS]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = sorted({(line["train_set"], line["correction"]) for line in lines})
    value = {(r["train_set"], r["correction"], r["test_set"], r["bucket"]): r for r in lines}
    for train_set, correction in keys + [("baseline", "")]:
        cells = [train_set, correction]
        for t in TEST_SETS:
            for b in BUCKETS:
                if train_set == "baseline":
                    cells.append(f"{value[(keys[0][0], keys[0][1], t, b)]['baseline_nme']:.2f}")
                else:
                    cells.append(f"{value[(train_set, correction, t, b)]['nme']:.2f}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def plot_per_landmark(tables: dict[str, Any], path: Path) -> None:
    """Per-landmark NME on AFLW2000-3D of every run, the baseline behind them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(tables.values()))
    names = first.loc[first["faces"] > 0, "landmark"].tolist()
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(8, 0.2 * len(names)), 4.5))
    base = first.set_index("landmark").loc[names, "baseline_percent"]
    ax.bar(x, base, color="#dddddd", label="mean-shape baseline")
    width = 0.8 / max(1, len(tables))
    for k, (run, table) in enumerate(tables.items()):
        values = table.set_index("landmark").loc[names, "nme_percent"]
        ax.bar(x - 0.4 + (k + 0.5) * width, values, width=width, label=run)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_ylabel("NME on AFLW2000-3D (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def contact_sheet(checkpoint: Path, shards: Path, path: Path, per_group: int = 4) -> None:
    """Best, median and worst AFLW2000-3D faces of one run: ground truth (green), prediction (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trainer import components as C
    from trainer.checkpoint import load_checkpoint
    from trainer.data import PIXEL_MEAN, PIXEL_SCALE, ShardDataset, open_shard_set, select_indices
    from trainer.evaluate import face_nme, point_errors, predict

    ck = load_checkpoint(str(checkpoint))
    names = list(open_shard_set(str(shards)).landmark_names)
    source = C.DecoderSource.of(ck, str(checkpoint), None, None)
    cols, verts = C.assign_vertices(names, source.vertex_map)
    encoder, _ = C.checkpoint_encoder(ck, str(checkpoint))
    decoder = source.decoder(verts)
    rows = select_indices(open_shard_set(str(shards)), "test", ["aflw2000_3d"])
    dataset = ShardDataset(str(shards), rows)
    pred = predict(encoder, decoder, dataset, cols)
    nme = face_nme(point_errors(pred["pred"], pred["gt"], pred["mask"], pred["norm_size"]))
    order = np.argsort(nme)
    middle = len(order) // 2 - per_group // 2
    groups = {"best": order[:per_group], "median": order[middle:middle + per_group],
              "worst": order[-per_group:]}
    meta = open_shard_set(str(shards)).meta()
    fig, axes = plt.subplots(len(groups), per_group, figsize=(2.4 * per_group, 2.6 * len(groups)),
                             squeeze=False)
    for r, (label, picks) in enumerate(groups.items()):
        for c, k in enumerate(picks):
            ax = axes[r][c]
            item = dataset[int(k)]
            image = np.clip(item["image"].transpose(1, 2, 0) * PIXEL_SCALE + PIXEL_MEAN, 0, 255)
            ax.imshow(image.astype(np.uint8))
            gt, mask = pred["gt"][k], pred["mask"][k]
            ax.scatter(gt[mask, 0], gt[mask, 1], s=3, color="#2ca02c")
            ax.scatter(pred["pred"][k][mask, 0], pred["pred"][k][mask, 1], s=3, color="#d62728")
            ax.set_title(f"{label}: {Path(meta['sample_id'].iloc[rows[k]]).stem}\n"
                         f"NME {nme[k]:.2f} %, yaw {pred['yaw'][k]:.0f}°", fontsize=7)
            ax.axis("off")
    fig.suptitle(f"AFLW2000-3D, {checkpoint.parent.name}: ground truth green, prediction red", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import torch
    import yaml

    args = parse_args(argv)
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.model.is_file():
        raise SystemExit(f"{args.model}: face model not found (give --model)")
    recipe = dict(RECIPE)
    for item in args.overrides:
        key, _, value = item.partition("=")
        recipe[key] = yaml.safe_load(value)
    runs = [tuple(r.split(":")) for r in args.runs.split(",")]
    for train_set, correction in runs:
        if train_set not in TRAIN_SETS or correction not in CORRECTION:
            raise SystemExit(f"--runs: {train_set}:{correction} is not one of A|F : N|Y")
    args.out.mkdir(parents=True, exist_ok=True)
    shards = args.out / "shards.h5"
    report = build(experiment_roots(args.roots, args.out, args.aflw_test, args.seed), shards)
    print(f"shards: {shards}, kept by split: {json.dumps(report.get('kept_by_split'))}")

    steps = args.steps
    seconds_per_step = None
    if steps is None:
        seconds_per_step = calibrate(args, shards, args.out, recipe)
        left = args.minutes * 60 - (time.perf_counter() - started) - OVERHEAD_S - EVALUATION_S * len(runs)
        steps = max(CALIBRATION_STEPS, int(left / len(runs) / seconds_per_step / 50) * 50)
    settings = {"steps": steps, "seconds_per_step": seconds_per_step, "recipe": recipe,
                "model": str(args.model), "runs": [":".join(r) for r in runs], "seed": args.seed,
                "threads": torch.get_num_threads(), "command": " ".join(sys.argv)}
    (args.out / "settings.json").write_text(json.dumps(settings, indent=2))
    print(f"settings: {json.dumps(settings)}")

    from trainer.loop import train

    results: dict[tuple[str, str], dict[str, Any]] = {}
    for train_set, correction in runs:
        run_dir = args.out / f"{train_set}-{correction}"
        t0 = time.perf_counter()
        train(train_config(args, shards, run_dir, train_set, correction, steps, recipe))
        results[(train_set, correction)] = evaluate_run(run_dir / "final.pt", shards, run_dir / "eval")
        row = results[(train_set, correction)]
        print(f"{train_set}-{correction}: {time.perf_counter() - t0:.0f} s, "
              + ", ".join(f"{t} {row[t].bucket_mean:.2f} % (baseline {row[t].base_bucket_mean:.2f})"
                          for t in TEST_SETS), flush=True)

    lines = results_rows(results)
    with (args.out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    markdown = table2(lines)
    (args.out / "tables.md").write_text(markdown)
    plot_per_landmark({f"{t}-{c}": rows["per_landmark"] for (t, c), rows in results.items()},
                      args.out / "per_landmark.png")
    best = min(results, key=lambda k: results[k]["AFLW2000-3D"].bucket_mean)
    contact_sheet(args.out / f"{best[0]}-{best[1]}" / "final.pt", shards, args.out / "contact_sheet.png")
    print(markdown)
    print(f"whole experiment: {(time.perf_counter() - started) / 60:.1f} min; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
