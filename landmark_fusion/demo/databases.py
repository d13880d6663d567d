"""The demo's mini-databases: how many faces each gets, which poses, sizes and splits, and the
rendering of their faces (in worker processes) into :class:`FixtureFace` records for the writers.

Each database imitates what its real counterpart is like (docs/formats.md): 300W near-frontal photos of
any size with the 2-D jaw contour; 300W-LP 450-px images with profiled copies (k > 0, yaw pushed
outwards, same person and background) and ``_Flip`` twins; AFLW2000-3D 450-px test images with the
fixed 68 points, their depth and the 21 visible AFLW points; AFLW visible points only, over the full
yaw range; LS3D-W a yaw-balanced test set and a 300VW-3D style video; FaceWarehouse 640x480
expression portraits grouped by tester; LFW-74 250x250 crops; WFLW photos with attributes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .writers.base import FixtureFace

#: share of the requested face count per database (renders; 300W-LP flips come on top)
SHARES = {"300w": 0.13, "300w_lp": 0.2, "aflw2000_3d": 0.1, "aflw": 0.1, "ls3d_w": 0.1,
          "facewarehouse": 0.13, "lfw74": 0.1, "wflw": 0.14}
DATABASES = tuple(SHARES)

#: annotation noise, in units of the face size (fitted 3DMM points are steadier than hand clicks)
NOISE = {"300w": 0.01, "300w_lp": 0.004, "aflw2000_3d": 0.004, "aflw": 0.012, "ls3d_w": 0.008,
         "facewarehouse": 0.008, "lfw74": 0.01, "wflw": 0.01}


@dataclass
class Job:
    """One render task: a face (or, for 300W-LP, a series of profiled faces) of one database."""

    database: str
    index: int
    seed: int
    height: int
    width: int
    yaws: tuple[float, ...]          # degrees; several = 300W-LP profiling steps k = 0, 1, ...
    split: str
    name: str
    expression: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)


def face_counts(total: int) -> dict[str, int]:
    """Faces per database for a requested total (at least a handful each, so every split exists)."""
    return {db: max(4, int(round(total * share))) for db, share in SHARES.items()}


def plan_jobs(total: int, seed: int) -> list[Job]:
    """Every render job of the demo, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    counts = face_counts(total)
    jobs: list[Job] = []

    def add(db, i, h, w, yaws, split, name, expression=0.5, **extra):
        jobs.append(Job(db, i, int(rng.integers(2**31)), h, w, tuple(float(y) for y in yaws), split, name,
                        expression, extra))

    # 300W: the four public subsets (training) and a few private challenge faces (test)
    subsets = [("lfpw/trainset", "image_{:04d}"), ("helen/trainset", "{:d}_1"), ("afw", "{:d}_1"),
               ("ibug", "image_{:03d}_1"), ("01_Indoor", "indoor_{:03d}")]
    for i in range(counts["300w"]):
        folder, pattern = subsets[i % len(subsets)]
        split = "test" if folder == "01_Indoor" else "train"
        h, w = int(rng.integers(300, 451)), int(rng.integers(300, 451))
        add("300w", i, h, w, [rng.uniform(-40, 40)], split, pattern.format(1000 + i if "{:d}" in pattern else i + 1),
            folder=folder)
    # 300W-LP: a near-frontal original and profiled copies with the yaw pushed outwards
    dbs = ("HELEN", "AFW", "LFPW", "IBUG")
    series = max(1, counts["300w_lp"] // 3)
    for i in range(series):
        y0 = rng.uniform(-30, 30)
        step = math.copysign(rng.uniform(15, 25), y0 if y0 else 1.0)
        yaws = [float(np.clip(y0 + k * step, -90, 90)) for k in range(3)]
        add("300w_lp", i, 450, 450, yaws, "train", f"{dbs[i % len(dbs)]}_{100000 + i}_1")
    for i in range(counts["aflw2000_3d"]):
        add("aflw2000_3d", i, 450, 450, [rng.uniform(-90, 90)], "test", f"image{2 + 3 * i:05d}")
    for i in range(counts["aflw"]):
        add("aflw", i, 450, 450, [rng.uniform(-90, 90)], "test", f"image{10002 + 5 * i:05d}")
    n = counts["ls3d_w"]
    for i in range(n):
        if i < (2 * n) // 3:  # the Balanced test set: equal numbers in 0-30, 30-60, 60-90
            low = 30 * (i % 3)
            add("ls3d_w", i, 400, 400, [math.copysign(rng.uniform(low, low + 30), rng.uniform(-1, 1))],
                "test", "", folder="new_dataset")
        else:                 # a short 300VW-3D style clip (training)
            add("ls3d_w", i, 360, 480, [-30 + 60 * (i % 10) / 10], "train", "", folder="300VW-3D",
                category="CatA", video="001")
    for i in range(counts["facewarehouse"]):
        add("facewarehouse", i, 480, 640, [rng.uniform(-20, 20)], "train", "", expression=1.2)
    people = ("Aaron_Eckhart", "Abel_Pacheco", "Ada_Lovelace", "Adam_Sandler", "Adrien_Brody")
    for i in range(counts["lfw74"]):
        person = people[i % len(people)]
        split = "test" if i % 4 == 3 else "train"
        add("lfw74", i, 250, 250, [rng.uniform(-45, 45)], split, f"{person}/{person}_{i // len(people) + 1:04d}")
    for i in range(counts["wflw"]):
        split = "test" if i % 4 == 3 else "train"
        h, w = int(rng.integers(320, 451)), int(rng.integers(320, 451))
        add("wflw", i, h, w, [rng.uniform(-75, 75)], split, f"0--Parade/0_Parade_demo_{i}.jpg", expression=0.8)
    return jobs


# ---------------------------------------------------------------------------------------------
# Rendering (runs in worker processes; assets are built once per process)
# ---------------------------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init(model_path: str | None) -> None:
    from .assets import load_assets
    from .scheme_points import SchemePoints

    assets = load_assets(model_path)
    _STATE["assets"] = assets
    _STATE["points"] = SchemePoints(assets.model, assets.table)


def render_job(job: Job, model_path: str | None = None) -> list[FixtureFace]:
    """Render a job's face(s) and annotate them in the database's native scheme."""
    from .scene import random_scene, render_face, rotation

    if "assets" not in _STATE:
        _init(model_path)
    assets, sp = _STATE["assets"], _STATE["points"]
    rng = np.random.default_rng(job.seed)
    params = random_scene(assets, rng, job.height, job.width, (job.yaws[0], job.yaws[0]), job.expression,
                          face_fraction=(0.35, 0.55))
    faces = []
    for k, yaw in enumerate(job.yaws):
        params.yaw = math.radians(yaw)
        render = render_face(assets, params, job.height, job.width)
        rot = rotation(params.pitch, params.yaw, params.roll)

        def native(scheme: str, noisy: bool = True):
            return sp.native(scheme, render.vertices, rot, render.raster, render.face_size,
                             NOISE[job.database] if noisy else 0.0, rng)

        faces.append(_fixture(job, k, render, params, native, assets))
    return faces


def _fixture(job: Job, k: int, render, params, native: Callable, assets) -> FixtureFace:
    db = job.database
    pose = (params.pitch, params.yaw, params.roll)
    yaw = math.degrees(params.yaw)
    extra: dict[str, Any] = dict(job.extra)
    name = job.name
    if db in ("300w",):
        pts = native("ibug68")
        return FixtureFace(render.image, pts.points, None, name, job.split, yaw, pose, None, extra)
    if db == "300w_lp":
        pts = native("ibug68_fixed")
        return FixtureFace(render.image, pts.points, None, f"{name}_{k}", job.split, yaw, pose, pts.points3d, extra)
    if db == "aflw2000_3d":
        pts = native("ibug68_fixed")
        a21 = native("aflw21")
        extra.update(aflw21_points=a21.points, aflw21_visible=a21.visible)
        return FixtureFace(render.image, pts.points, None, name, job.split, yaw, pose, pts.points3d, extra)
    if db == "aflw":
        pts = native("aflw21")
        return FixtureFace(render.image, pts.points, pts.visible, name, job.split, yaw, pose, None, extra)
    if db == "ls3d_w":
        pts = native("ibug68_fixed")
        return FixtureFace(render.image, pts.points, None, name, job.split, yaw, pose, None, extra)
    if db in ("facewarehouse", "lfw74"):
        pts = native("fw74")
        return FixtureFace(render.image, pts.points, None, name, job.split, yaw, pose, None, extra)
    if db == "wflw":
        pts = native("wflw98")
        extra["attributes"] = {"pose": int(abs(yaw) > 45), "expression": int(float(np.sum(params.x_exp)) > 0.8),
                               "illumination": int(params.ambient < 0.4), "blur": 0, "makeup": 0, "occlusion": 0}
        return FixtureFace(render.image, pts.points, None, name, job.split, yaw, pose, None, extra)
    raise ValueError(f"unknown demo database {db!r}")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def write_database(db: str, root: Path, faces: Sequence[FixtureFace]) -> dict[str, Any]:
    """Write one mini-database in its native layout; returns its roots.yaml entry."""
    from .writers import aflw, aflw2000_3d, landfiles, ls3d_w, w300, w300_lp, wflw

    root = Path(root)
    if db == "300w":
        w300.write_300w(root, faces)
    elif db == "300w_lp":
        w300_lp.write_300w_lp(root, faces, flip=True, landmarks=True)
    elif db == "aflw2000_3d":
        aflw2000_3d.write_aflw2000_3d(root, faces)
    elif db == "aflw":
        aflw.write_aflw_3ddfa(root, faces)
        aflw.write_aflw_sqlite(root.parent / "aflw_sqlite", faces)  # the registration form, same faces
    elif db == "ls3d_w":
        for folder in ("new_dataset", "300VW-3D"):
            ls3d_w.write_ls3d_w(root, [f for f in faces if f.extra.get("folder") == folder], folder=folder)
    elif db == "facewarehouse":
        landfiles.write_facewarehouse(root, faces)
    elif db == "lfw74":
        landfiles.write_lfw74(root, faces)
    elif db == "wflw":
        wflw.write_wflw(root, faces)
    else:
        raise ValueError(f"unknown demo database {db!r}")
    return {"path": str(root)}
