"""What a database's demo declares beside its writer: its render jobs, how a rendered face is
annotated, how the faces are written (a :class:`DemoDatabase`), and the records passed between.

The demo (:mod:`.databases`) finds each database's :class:`DemoDatabase` through the database's
record (``DatabaseRecord.demo``), so the planner, the renderer and the writing step hold no
per-database code.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .writers.base import FixtureFace


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


class JobList:
    """The jobs of one database, added to the demo's list; each job's seed is drawn from the
    demo's one random stream when it is added."""

    def __init__(self, database: str, rng: np.random.Generator, jobs: list[Job]) -> None:
        self.database = database
        self.rng = rng
        self.jobs = jobs

    def add(self, index: int, height: int, width: int, yaws: Sequence[float], split: str, name: str,
            expression: float = 0.5, **extra: Any) -> None:
        """Append one job (``extra`` goes to the faces' ``FixtureFace.extra``)."""
        self.jobs.append(Job(self.database, index, int(self.rng.integers(2**31)), height, width,
                             tuple(float(y) for y in yaws), split, name, expression, extra))


@dataclass
class RenderedFace:
    """One rendered face of a job, handed to its database's ``annotate``.

    ``native(scheme, noisy=True)`` gives the face's points in a scheme (with the database's
    annotation noise unless ``noisy`` is False); ``params`` is the scene (pose, expression, light).
    """

    job: Job
    k: int                     # profiling step of a 300W-LP series, 0 for a single face
    image: np.ndarray
    params: Any
    native: Callable[..., Any]

    @property
    def yaw(self) -> float:
        """Degrees, positive = face turned towards image-left."""
        return math.degrees(self.params.yaw)

    @property
    def pose(self) -> tuple[float, float, float]:
        """``(pitch, yaw, roll)`` in radians."""
        return (self.params.pitch, self.params.yaw, self.params.roll)

    def fixture(self, points: np.ndarray, visible: np.ndarray | None = None,
                points3d: np.ndarray | None = None, name: str | None = None, **extra: Any
                ) -> FixtureFace:
        """The face for the writer: the job's name, split and extras (``extra`` added)."""
        merged = dict(self.job.extra)
        merged.update(extra)
        return FixtureFace(self.image, points, visible, self.job.name if name is None else name,
                           self.job.split, self.yaw, self.pose, points3d, merged)


@dataclass(frozen=True)
class DemoDatabase:
    """How the demo makes one mini-database.

    ``plan(count, rng, jobs)``: add the jobs of ``count`` faces (draws from ``rng``, the demo's one
    stream); ``annotate(face)``: the :class:`FixtureFace` of a rendered face (in a rendering
    process); ``write(root, faces)``: the database's files in its native layout below ``root``.
    """

    plan: Callable[[int, np.random.Generator, JobList], None]
    annotate: Callable[[RenderedFace], FixtureFace]
    write: Callable[[Path, Sequence[FixtureFace]], Any]
