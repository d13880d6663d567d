"""The demo's mini-databases: how many faces each gets, the rendering of their faces (in worker
processes) into :class:`FixtureFace` records, and the writing of each in its native layout.

What is particular to a database -- its share of the faces, its annotation noise, its poses, sizes
and splits, the scheme its faces are annotated in, its files -- is declared once: the numbers in
its record (``landmark_fusion/sources/<database>_record.py``, ``DemoSpec``), the rest in the
:class:`~.plan.DemoDatabase` beside its writer (``landmark_fusion/demo/writers/``). Each imitates
what its real counterpart is like (docs/formats.md): 300W near-frontal photos of any size with the
2-D jaw contour; 300W-LP 450-px images with profiled copies (k > 0, yaw pushed outwards, same
person and background) and ``_Flip`` twins; AFLW2000-3D 450-px test images with the fixed 68
points, their depth and the 21 visible AFLW points; AFLW visible points only, over the full yaw
range; LS3D-W a yaw-balanced test set and a 300VW-3D style video; FaceWarehouse 640x480
expression portraits grouped by tester; LFW-74 250x250 crops; WFLW photos with attributes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..sources.record import DatabaseRecord, DemoSpec
from ..sources.registry import find, records
from .assets import load_assets
from .plan import DemoDatabase, Job, JobList, RenderedFace
from .scene import random_scene, render_face, rotation
from .scheme_points import SchemePoints
from .writers.base import FixtureFace


def demo_records() -> list[DatabaseRecord]:
    """The databases the demo makes, in the demo's order (``DemoSpec.rank``)."""
    return sorted((record for record in records() if record.demo is not None),
                  key=lambda record: demo_spec(record).rank)


def demo_spec(record: DatabaseRecord) -> DemoSpec:
    """The demo part of a database's record; a database without one is no demo database."""
    if record.demo is None:
        raise ValueError(f"database {record.name!r} has no demo writer")
    return record.demo


@cache
def demo_database(name: str) -> DemoDatabase:
    """The :class:`DemoDatabase` of database ``name`` (its writer module is imported now)."""
    return demo_spec(find(name)).load()


#: databases of the demo, in its order
DATABASES = tuple(record.name for record in demo_records())
#: share of the requested face count per database (renders; 300W-LP flips come on top)
SHARES = {record.name: demo_spec(record).share for record in demo_records()}
#: annotation noise, in units of the face size (fitted 3DMM points are steadier than hand clicks)
NOISE = {record.name: demo_spec(record).noise for record in demo_records()}


def face_counts(total: int) -> dict[str, int]:
    """Faces per database for a requested total (at least a handful each, so every split exists)."""
    return {record.name: max(4, int(round(total * demo_spec(record).share))) for record in demo_records()}


def plan_jobs(total: int, seed: int) -> list[Job]:
    """Every render job of the demo, deterministic in ``seed``: each database adds its jobs in
    turn, drawing from one random stream."""
    rng = np.random.default_rng(seed)
    counts = face_counts(total)
    jobs: list[Job] = []
    for name, count in counts.items():
        demo_database(name).plan(count, rng, JobList(name, rng, jobs))
    return jobs


# ---------------------------------------------------------------------------------------------
# Rendering (runs in worker processes; assets are built once per process)
# ---------------------------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init(model_path: str | None) -> None:
    assets = load_assets(model_path)
    _STATE["assets"] = assets
    _STATE["points"] = SchemePoints(assets.model, assets.table)


def render_job(job: Job, model_path: str | None = None) -> list[FixtureFace]:
    """Render a job's face(s) and annotate them in the database's native scheme."""
    if "assets" not in _STATE:
        _init(model_path)
    assets, sp = _STATE["assets"], _STATE["points"]
    database = demo_database(job.database)
    noise = demo_spec(find(job.database)).noise
    rng = np.random.default_rng(job.seed)
    params = random_scene(assets, rng, job.height, job.width, (job.yaws[0], job.yaws[0]), job.expression,
                          face_fraction=(0.35, 0.55))
    faces = []
    for k, yaw in enumerate(job.yaws):
        params.yaw = math.radians(yaw)
        render = render_face(assets, params, job.height, job.width)
        rot = rotation(params.pitch, params.yaw, params.roll)

        def native(scheme: str, noisy: bool = True, *, render=render, rot=rot):  # bound to this yaw
            return sp.native(scheme, render.vertices, rot, render.raster, render.face_size,
                             noise if noisy else 0.0, rng)

        faces.append(database.annotate(RenderedFace(job, k, render.image, params, native)))
    return faces


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def write_database(db: str, root: Path, faces: Sequence[FixtureFace]) -> dict[str, Any]:
    """Write one mini-database in its native layout; returns its roots.yaml entry."""
    root = Path(root)
    demo_database(db).write(root, faces)
    return {"path": str(root)}
