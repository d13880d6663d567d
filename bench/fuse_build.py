"""Throughput of `fuse build` against a bare decode + crop + resize loop over the same images.

Generates a synthetic 300W-style folder (``.pts`` + JPEG) in a temporary folder, then times
(1) ``build_shards`` writing an HDF5 file and (2) a loop over a process pool of the same size that
only decodes each image with OpenCV, cuts the face box and resizes it to the crop size. Prints
images/s of both and their ratio (goal: ≥ 0.8 with the same number of workers).

    python bench/fuse_build.py --images 600 --workers 2

Each repeat times the bare loop and then the build, so that both see the same machine load; the
table lists every pair, then the ratio of the best runs and the median of the pairs' ratios.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def synthetic_faces(count: int, width: int, height: int, seed: int = 0):
    """Faces with 68 points on an ellipse-and-features layout over a smooth noisy background."""
    from landmark_fusion.demo.writers.base import FixtureFace

    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) * 127 // (width + height)], -1)
    angles = np.linspace(0, 2 * math.pi, 68, endpoint=False)
    for i in range(count):
        noise = rng.integers(0, 40, (height, width, 3))
        image = np.clip(base + noise, 0, 255).astype(np.uint8)
        cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
        r = rng.uniform(0.12, 0.25) * min(width, height)
        points = np.stack([cx + r * np.cos(angles) * rng.uniform(0.6, 1.0, 68),
                           cy + r * np.sin(angles) * rng.uniform(0.6, 1.0, 68)], -1)
        yield FixtureFace(image=image, points=points, name=f"face_{i:05d}", extra={"folder": "afw"})


def write_dataset(root: Path, count: int, width: int, height: int) -> list[Path]:
    from landmark_fusion.demo.writers.w300 import write_300w

    return write_300w(root, synthetic_faces(count, width, height))  # streamed, one face at a time


def _bare_init() -> None:
    """The same process settings as the build's workers (one OpenCV thread, malloc thresholds)."""
    import cv2

    from landmark_fusion.build.allocator import reuse_large_buffers

    cv2.setNumThreads(1)
    reuse_large_buffers()


def bare_one(task: tuple[str, tuple[int, int, int, int], int]) -> int:
    """Decode, cut the box (clipped to the image) and resize; nothing else."""
    import cv2

    path, (x0, y0, x1, y1), size = task
    image = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    region = image[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    return int(cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA).sum() > 0)


def bare_loop(pts_files: list[Path], workers: int, size: int, margin: float) -> float:
    from landmark_fusion.crop import square_box
    from landmark_fusion.sources.pts import read_pts

    tasks = []
    for pts in pts_files:
        points = read_pts(pts, 68) - 1.0
        x0, y0, side = square_box(points, np.ones(68, bool), margin)
        box = (int(x0), int(y0), int(x0 + side), int(y0 + side))
        tasks.append((str(pts.with_suffix(".jpg")), box, size))
    started = time.perf_counter()
    with get_context("fork").Pool(workers, initializer=_bare_init) as pool:
        done = sum(pool.imap(bare_one, tasks, chunksize=8))
    elapsed = time.perf_counter() - started
    assert done == len(tasks)
    return len(tasks) / elapsed


def fuse_build(root: Path, out: Path, workers: int, size: int, margin: float, count: int) -> float:
    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import Root

    settings = BuildSettings(crop_size=size, margin=margin, workers=workers, progress=False)
    started = time.perf_counter()
    report = build_shards([Root("300w", root)], out, settings)
    elapsed = time.perf_counter() - started
    assert report.total_kept == count, report.table()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--height", type=int, default=450)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "300W"
        pts_files = write_dataset(root, args.images, args.width, args.height)
        bare_loop(pts_files[:16], args.workers, args.size, args.margin)  # warm the page cache
        bare, build = [], []
        for run in range(args.repeats):
            bare.append(bare_loop(pts_files, args.workers, args.size, args.margin))
            build.append(fuse_build(root, Path(tmp) / f"fused{run}.h5", args.workers, args.size,
                                    args.margin, args.images))
    pairs = [b / a for a, b in zip(bare, build)]
    print(f"images: {args.images} ({args.width}x{args.height} JPEG), workers: {args.workers}, "
          f"crop: {args.size}, {args.repeats} alternating runs of each")
    print(f"{'run':<5}{'bare images/s':>15}{'build images/s':>16}{'ratio':>8}")
    for run, (a, b, r) in enumerate(zip(bare, build, pairs), 1):
        print(f"{run:<5}{a:>15.1f}{b:>16.1f}{r:>8.2f}")
    print(f"best bare decode+crop+resize: {max(bare):8.1f} images/s")
    print(f"best fuse build (HDF5):       {max(build):8.1f} images/s")
    print(f"ratio of the bests:           {max(build) / max(bare):8.2f}")
    print(f"median of the run ratios:     {float(np.median(pairs)):8.2f}")


if __name__ == "__main__":
    main()
