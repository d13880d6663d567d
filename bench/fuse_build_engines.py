"""Throughput of `fuse build --engine ray` against the local engine with the same number of workers.

Writes a synthetic 300W folder (N faces, 600x450 JPEG + ``.pts``, the writer of
``bench/fuse_build.py``) to a temporary folder and builds the same Parquet set with both engines:

- local: ``build_shards`` with a process pool of W workers (its forkserver starts with the first run
  of the process, so the first local run carries that start);
- ray: a local Ray of W CPUs, started once and timed on its own (``ray.init``: Ray's fixed start-up
  cost), then the same builds on it. Ray starts its worker processes with ``ray.init`` but each one
  imports the work's modules with its first task, so the first Ray build carries that too.

Each repeat runs a local build and then a Ray build, so that both see the same machine load. The
table lists every pair (images/s), the ratio ray / local of the best runs and the median of the
pairs' ratios without Ray's start-up, and the throughput with it (start + first build). Every Ray
set is checked to hold the same bytes as the local one.

    python bench/fuse_build_engines.py --images 600 --workers 2 --repeats 3
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _build(root: Path, out: Path, workers: int, engine: str, count: int) -> float:
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import Root

    settings = BuildSettings(workers=workers, progress=False, engine=engine)
    started = time.perf_counter()
    report = build_shards([Root("300w", root)], out, settings)
    elapsed = time.perf_counter() - started
    assert report.total_kept == count, report.table()
    return elapsed


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuse_build import write_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "300W"
        write_dataset(root, args.images, 600, 450)
        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
        start_up = time.perf_counter() - started
        local, remote = [], []
        try:
            for run in range(args.repeats + 1):  # run 0: the first of each (starts included)
                local.append(_build(root, Path(tmp) / f"local{run}", args.workers, "local",
                                    args.images))
                remote.append(_build(root, Path(tmp) / f"ray{run}", args.workers, "ray",
                                     args.images))
                assert _digest(Path(tmp) / f"ray{run}") == _digest(Path(tmp) / f"local{run}")
        finally:
            ray.shutdown()
    n = args.images
    rate = [n / t for t in local], [n / t for t in remote]
    print(f"{n} faces, {args.workers} workers, Parquet; Ray start-up (ray.init) {start_up:.1f} s")
    print(f"{'run':<22}{'local img/s':>12}{'ray img/s':>11}{'ratio':>7}")
    for run, (a, b) in enumerate(zip(*rate, strict=False)):
        label = "1st (starts incl.)" if run == 0 else f"{run + 1}"
        print(f"{label:<22}{a:>12.0f}{b:>11.0f}{b / a:>7.2f}")
    steady = [b / a for a, b in zip(rate[0][1:], rate[1][1:], strict=False)]
    print(f"without Ray's start-up: best {max(rate[1][1:]) / max(rate[0][1:]):.2f}, "
          f"median {statistics.median(steady):.2f} (goal >= 0.8)")
    print(f"with it (ray.init + first build vs first local build): "
          f"{n / (start_up + remote[0]):.0f} vs {rate[0][0]:.0f} img/s, "
          f"ratio {(n / (start_up + remote[0])) / rate[0][0]:.2f}")
    print("every Ray set holds the same bytes as the local one")


if __name__ == "__main__":
    main()
