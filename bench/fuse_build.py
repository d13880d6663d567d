"""Whole ``fuse build`` commands on every real layout against a bare decode + warp loop.

For each layout the same faces are processed three ways, one after the other in every repeat:

* **bare**: a Python process (started by this script, so that its start-up counts) with a pool of
  ``--workers`` processes that only decodes each image with ``cv2.imread`` (full resolution, BGR to
  RGB), cuts the face box and resizes it with one ``cv2.warpAffine`` to the crop size. The boxes are
  computed beforehand, from the readers' own points, outside any clock.
* **bare + write**: the same loop, each worker also appending every crop's raw pixels (77 KB at
  160 px, what a raw shard stores) to a file of its own: the least any build must do.
* **build**: the whole ``fuse build --workers W --out X.h5`` command (HDF5, crop 160, margin 0.25),
  interpreter start-up, pool start, reading, checks, the writes and the report included. Like the
  bare + write loop's, its files are new in every run (the last run's are removed, outside the
  clock), and the project's modules are byte-compiled once before the runs, as an installed
  package's are.

The ratio is build faces/s over bare faces/s (goal ≥ 0.8; ≥ 1.2 on large photos, where the build
decodes JPEGs at reduced resolution); the write ratio is build faces/s over bare + write faces/s.
Each repeat also runs the bare loop and the build on the first ``--small`` items alone: their times
are the commands' start-up, and the per-face ratio (bare over build, each side's extra time for the
other faces) is what the ratio tends to with many faces.
Layouts (``--layouts``):

* ``300w_lp``: 300W-LP's own files (450x450 JPEG + ``.mat`` + ``landmarks/*_pts.mat``), from
  ``--realdata/300w_lp``;
* ``aflw``: AFLW in 3DDFA's form (120x120 JPEG crops + ``.npy`` arrays), ``--realdata/aflw``;
* ``aflw2000_3d``: 450x450 JPEG + ``.mat``, ``--realdata/aflw2000_3d``;
* ``300w``: the real 300W (LFPW) ``.pts`` + PNG files of ``--samples/300W``, each copied
  ``--faces / 3`` times into a temporary 300W root (the same three photos over and over);
* ``large``: AFLW2000-3D photos upscaled 3x (1350x1350, bicubic, JPEG quality 95) with their
  ``pt3d_68`` points scaled alike, written as a 300W root (``.jpg`` + ``.pts``) in a temporary
  folder: photos of the size of WFLW's and AFLW's originals (an upscaled photo holds less fine detail
  than a real one of that size; its JPEG is smaller and decodes a little faster).

    python bench/fuse_build.py --faces 2000 --workers 2 --repeats 3
    python bench/fuse_build.py --layouts large --build-args=--no-reduced-decode

``--build-args`` adds options to every ``fuse build`` command (e.g. ``--no-reduced-decode``).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

LAYOUTS = ("300w_lp", "aflw", "aflw2000_3d", "300w", "large")
#: The database each layout is read as.
DATABASE = {"300w_lp": "300w_lp", "aflw": "aflw", "aflw2000_3d": "aflw2000_3d", "300w": "300w",
            "large": "300w"}
UPSCALE = 3


# -- a synthetic 300W folder (also used by bench/fuse_build_engines.py, _memory.py and the tests) --
def synthetic_faces(count: int, width: int, height: int, seed: int = 0):
    """Faces with 68 points on an ellipse-and-features layout over a smooth noisy background."""
    import math

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
    """A synthetic 300W folder of ``count`` faces (``.pts`` + JPEG), streamed one face at a time."""
    from landmark_fusion.demo.writers.w300 import write_300w

    return write_300w(root, synthetic_faces(count, width, height))


# -- the bare loop (run as its own process: ``python fuse_build.py --bare TASKS.json``) ----------
_BARE_OUT: list = []  # the file a worker of the "bare + write" loop appends its crops to


def _bare_init(out_dir: str | None) -> None:
    """The same process settings as the build's workers (one OpenCV thread, malloc thresholds);
    with ``out_dir``, a file of this worker's own there for its crops."""
    import os

    import cv2

    from landmark_fusion.build.allocator import reuse_large_buffers

    cv2.setNumThreads(1)
    reuse_large_buffers()
    if out_dir is not None:
        _BARE_OUT.append(open(os.path.join(out_dir, f"crops.{os.getpid()}.raw"), "wb",
                              buffering=0))  # one write call per crop: nothing left to flush


def bare_one(task: tuple[str, float, float, float, int]) -> int:
    """Decode at full resolution, then one warp of the box to the crop; with a crop file (the
    "bare + write" loop) the crop's raw pixels are appended to it; nothing else."""
    import cv2

    path, x0, y0, side, size = task
    image = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    s = size / side
    matrix = np.array([[s, 0.0, -s * x0 - 0.5], [0.0, s, -s * y0 - 0.5]])
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR)
    if _BARE_OUT:
        _BARE_OUT[0].write(crop.data)
    return int(crop.shape[0] == size)


def run_bare(tasks_path: Path, workers: int, out_dir: Path | None) -> None:
    from multiprocessing import get_context

    tasks = [tuple(task) for task in json.loads(tasks_path.read_text())]
    initargs = (str(out_dir) if out_dir is not None else None,)
    with get_context("fork").Pool(workers, initializer=_bare_init, initargs=initargs) as pool:
        done = sum(pool.imap(bare_one, tasks, chunksize=8))
    assert done == len(tasks)


# -- the layouts ----------------------------------------------------------------------------------
def copy_300w(samples: Path, root: Path, faces: int) -> None:
    """The real LFPW ``.pts`` + PNG samples, copied until there are ``faces`` of them."""
    originals = sorted((samples / "300W" / "lfpw" / "trainset").glob("*.pts"))
    folder = root / "lfpw" / "trainset"
    folder.mkdir(parents=True)
    for i in range(faces):
        pts = originals[i % len(originals)]
        stem = f"{pts.stem}_copy{i:05d}"
        shutil.copyfile(pts, folder / f"{stem}.pts")
        shutil.copyfile(pts.with_suffix(".png"), folder / f"{stem}.png")


def write_large(realdata: Path, root: Path, faces: int) -> None:
    """AFLW2000-3D photos upscaled ``UPSCALE`` times as a 300W root (see the module docstring)."""
    import cv2
    import scipy.io

    from landmark_fusion.sources.pts import format_pts

    folder = root / "afw"
    folder.mkdir(parents=True)
    mats = sorted((realdata / "aflw2000_3d" / "AFLW2000").glob("*.mat"))[:faces]
    for mat in mats:
        image = cv2.imread(str(mat.with_suffix(".jpg")), cv2.IMREAD_COLOR)
        big = cv2.resize(image, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        points = scipy.io.loadmat(str(mat), variable_names=["pt3d_68"])["pt3d_68"][:2].T - 1.0
        # 0-based pixel centres: x' = UPSCALE·x + (UPSCALE - 1)/2; .pts are 1-based
        points = UPSCALE * points + (UPSCALE - 1) / 2.0
        cv2.imwrite(str(folder / f"{mat.stem}.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
        (folder / f"{mat.stem}.pts").write_text(format_pts(points + 1.0), encoding="utf-8")


def prepare(layout: str, realdata: Path, samples: Path, tmp: Path, faces: int) -> Path:
    """The root folder of ``layout`` (made in ``tmp`` where it is not a real database)."""
    if layout in ("300w_lp", "aflw", "aflw2000_3d"):
        return realdata / layout
    root = tmp / layout
    if layout == "300w":
        copy_300w(samples, root, faces)
    else:
        write_large(realdata, root, faces)
    return root


def bare_tasks(database: str, root: Path, faces: int, size: int, margin: float
               ) -> list[tuple[str, float, float, float, int]]:
    """``(image, x0, y0, side, size)`` of the first ``faces`` items, as the reader reads them."""
    from landmark_fusion.crop import square_box
    from landmark_fusion.sources import get_source
    from landmark_fusion.sources.base import RawFace

    reader = get_source(database)(root)
    tasks = []
    for item in islice((i for i in reader.items() if not hasattr(i, "reason")), faces):
        for face in reader.read(item):
            if isinstance(face, RawFace):
                x0, y0, side = square_box(face.points, face.visible, margin)
                tasks.append((str(face.image_path), x0, y0, side, size))
    return tasks


def bare_command(tasks_path: Path, args: argparse.Namespace) -> list[str]:
    """The bare loop over the tasks of ``tasks_path``, as its own process."""
    return [sys.executable, __file__, "--bare", str(tasks_path), "--workers", str(args.workers)]


def build_command(roots_file: Path, database: str, limit: int, out: Path,
                  args: argparse.Namespace) -> list[str]:
    """The whole ``fuse build`` of the first ``limit`` items of ``database`` into ``out``."""
    return [shutil.which("fuse") or "fuse", "build", "--roots", str(roots_file),
            "--sources", database, "--out", str(out), "--workers", str(args.workers),
            "--limit", str(limit), "--crop-size", str(args.size), "--margin", str(args.margin),
            "--no-progress", "--overwrite", *shlex.split(args.build_args)]


def fresh(out: Path) -> None:
    """Remove an earlier build's output and report, outside the clock: each build writes new files,
    as the bare + write loop does. (Replacing a file by rename makes ext4 write the new file's
    pages out at once, ``auto_da_alloc``: about 0.05 s per 100 MB in this command's time.)"""
    for path in (out, out.with_name(out.name + ".report.json"),
                 out.with_name(out.name + ".rejected.jsonl")):
        path.unlink(missing_ok=True)


def byte_compile() -> None:
    """Compile the project's modules once, as installing a package does: where
    ``PYTHONDONTWRITEBYTECODE`` is set, every command would otherwise compile them again (about
    0.1 s of a build's start)."""
    import compileall

    top = Path(__file__).resolve().parents[1]
    for package in ("landmark_fusion", "trainer"):
        compileall.compile_dir(str(top / package), quiet=1)
    compileall.compile_file(str(top / "cli.py"), quiet=1)


def timed(command: list[str]) -> float:
    """Wall time of ``command``, started with no written data of an earlier one still waiting to
    reach the disk (``os.sync`` first, outside the clock: the 1.6 GB of crops of a 21,000-face run
    would otherwise be written out during the next command)."""
    os.sync()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--faces", type=int, default=2000, help="work items per layout")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--small", type=int, default=8,
                        help="items of the start-up runs (the first ones of the layout)")
    parser.add_argument("--realdata", type=Path, default=Path("/work/realdata"))
    parser.add_argument("--samples", type=Path,
                        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "samples")
    parser.add_argument("--build-args", default="", help="more fuse build options")
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        run_bare(args.bare, args.workers, args.bare_out)
        return
    byte_compile()
    layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for layout in layouts:
            database = DATABASE[layout]
            root = prepare(layout, args.realdata, args.samples, tmp, args.faces)
            roots_file = tmp / f"{layout}.roots.yaml"
            roots_file.write_text(f"{database}: {json.dumps(str(root))}\n")
            tasks = bare_tasks(database, root, args.faces, args.size, args.margin)
            tasks_file = tmp / f"{layout}.tasks.json"
            tasks_file.write_text(json.dumps(tasks))
            small_file = tmp / f"{layout}.small.json"
            small = bare_tasks(database, root, args.small, args.size, args.margin)
            small_file.write_text(json.dumps(small))
            bare_cmd, bare_small = bare_command(tasks_file, args), bare_command(small_file, args)
            crops = tmp / "bare-crops"
            write_cmd = [*bare_cmd, "--bare-out", str(crops)]
            build_cmd = build_command(roots_file, database, args.faces, tmp / f"{layout}.h5", args)
            build_small = build_command(roots_file, database, args.small,
                                        tmp / f"{layout}.small.h5", args)
            timed(bare_cmd)  # page cache and imports warm for both sides
            runs = []
            for _ in range(args.repeats):
                crops.mkdir()
                bare, written = timed(bare_cmd), timed(write_cmd)
                shutil.rmtree(crops)
                fresh(tmp / f"{layout}.h5")
                build = timed(build_cmd)
                fresh(tmp / f"{layout}.small.h5")
                runs.append((bare, written, build, timed(bare_small), timed(build_small)))
            report = json.loads((tmp / f"{layout}.h5.report.json").read_text())
            kept = int(report["total_kept"]) if "total_kept" in report else len(tasks)
            rows.append((layout, len(tasks), len(small), kept, runs))
            print(f"{layout}: {len(tasks)} faces, runs (bare s, bare + write s, build s; "
                  f"{len(small)} faces: bare s, build s): "
                  + ", ".join(f"{a:.2f}/{w:.2f}/{b:.2f}; {sa:.2f}/{sb:.2f}"
                              for a, w, b, sa, sb in runs), flush=True)
            if root.is_relative_to(tmp):
                shutil.rmtree(root)
    print(f"\nworkers: {args.workers}, crop: {args.size}, {args.repeats} alternating runs of each, "
          f"whole commands (start-up included); build options: {args.build_args or '(defaults)'}")
    print("ratio: build faces/s over bare faces/s (best of the runs / median of the per-run ratios);"
          " write ratio: the same over the bare loop that also writes each crop's raw pixels")
    print("start-up: the whole command on the first few items alone (median of the runs); per-face "
          "ratio: bare over build, each side's time for the other faces (median of the per-run ratios)")
    print(f"{'layout':<13}{'faces':>7}{'kept':>7}{'bare f/s':>10}{'+write f/s':>12}{'build f/s':>11}"
          f"{'ratio':>13}{'write ratio':>13}{'bare start s':>14}{'build start s':>15}"
          f"{'per-face ratio':>16}")
    for layout, faces, few, kept, runs in rows:
        best = [min(run[k] for run in runs) for k in range(3)]
        ratio = float(np.median([run[0] / run[2] for run in runs]))
        write_ratio = float(np.median([run[1] / run[2] for run in runs]))
        starts = [float(np.median([run[k] for run in runs])) for k in (3, 4)]
        per_face = (f"{np.median([(run[0] - run[3]) / (run[2] - run[4]) for run in runs]):>16.2f}"
                    if few < faces else f"{'-':>16}")  # (no faces beyond the start-up runs' own)
        print(f"{layout:<13}{faces:>7}{kept:>7}{faces / best[0]:>10.0f}{faces / best[1]:>12.0f}"
              f"{faces / best[2]:>11.0f}{best[0] / best[2]:>7.2f} /{ratio:>4.2f}"
              f"{best[1] / best[2]:>7.2f} /{write_ratio:>4.2f}{starts[0]:>14.2f}{starts[1]:>15.2f}"
              f"{per_face}")


if __name__ == "__main__":
    main()
