"""The process-pool engine: results in order through the crop ring, and crash isolation."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from landmark_fusion.build import BuildSettings, InProcessEngine, ProcessPoolEngine
from landmark_fusion.build.context import WorkerContext
from landmark_fusion.build.crop_ring import CropRing
from landmark_fusion.build.pool import WorkerPool
from landmark_fusion.build.results import WORKER_CRASHED
from landmark_fusion.build.run import scheme_names
from landmark_fusion.build.tasks import chunked
from landmark_fusion.build.work import init_worker, preload_modules, process_chunk
from landmark_fusion.correspondence import canonical_landmarks
from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.w300 import write_300w
from landmark_fusion.roots import Root
from landmark_fusion.sources import SOURCES

COUNT = 21


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A 300W folder of 21 faces (``face_00007`` is the one the crashing worker dies on)."""
    root = tmp_path_factory.mktemp("pool") / "300W"
    rng = np.random.default_rng(3)
    angles = np.linspace(0, 2 * math.pi, 68, endpoint=False)
    faces = []
    for i in range(COUNT):
        image = rng.integers(0, 255, (90, 120, 3)).astype(np.uint8)
        points = np.stack([60 + 25 * np.cos(angles), 45 + 20 * np.sin(angles)], -1) + i * 0.1
        faces.append(FixtureFace(image=image, points=points, name=f"face_{i:05d}",
                                 extra={"folder": "afw"}))
    write_300w(root, faces)
    return root


def _context(root: Path, workers: int) -> WorkerContext:
    settings = BuildSettings(workers=workers, progress=False, chunk_items=4)
    return WorkerContext({"300w": Root("300w", root)}, settings, tuple(canonical_landmarks()),
                         {name: i for i, name in enumerate(SOURCES)},
                         {name: i for i, name in enumerate(scheme_names())})


def _tasks(root: Path) -> list[tuple[str, str]]:
    return [("300w", f"afw/face_{i:05d}.pts") for i in range(COUNT)]


def run_tasks(tasks: list[tuple[str, str]], context: WorkerContext):
    """The results of the tasks, in this process or (with workers) in a pool."""
    workers = context.settings.workers
    engine = (ProcessPoolEngine(workers, preload_modules(list(context.roots.values())))
              if workers else InProcessEngine())
    return engine.run(chunked(tasks, context.settings.chunk_items), process_chunk, init_worker,
                      context)


def _collect(results) -> tuple[list[str], list[np.ndarray], list]:
    ids, images, rejected = [], [], []
    for result in results:
        for item_rejections in result.rejected:
            rejected.extend(item_rejections)
        if result.rows is not None:
            ids.extend(result.rows["sample_id"].tolist())
            images.extend(np.array(result.rows["images"]))  # copied before the next result
    return ids, images, rejected


def test_pool_results_match_the_in_process_run(folder):
    serial = _collect(run_tasks(_tasks(folder), _context(folder, 0)))
    pooled = _collect(run_tasks(_tasks(folder), _context(folder, 2)))
    assert serial[0] == pooled[0] == [f"afw/face_{i:05d}.jpg" for i in range(COUNT)]
    assert serial[2] == pooled[2] == []
    for a, b in zip(serial[1], pooled[1], strict=True):  # the crops came through the shared ring intact
        np.testing.assert_array_equal(a, b)


def test_a_pool_started_early_gives_the_same_results(folder):
    """``start`` (what build_shards calls before validating the schemes) only starts the server
    sooner: the pool then runs on it and returns what the in-process run does."""
    import multiprocessing
    from multiprocessing import forkserver

    context = _context(folder, 2)
    engine = ProcessPoolEngine(2, preload_modules(list(context.roots.values())))
    engine.start(process_chunk, init_worker)
    if "forkserver" in multiprocessing.get_all_start_methods():
        assert forkserver._forkserver._forkserver_pid is not None  # running before any work
    pooled = _collect(engine.run(chunked(_tasks(folder), 4), process_chunk, init_worker, context))
    serial = _collect(run_tasks(_tasks(folder), _context(folder, 0)))
    assert pooled[0] == serial[0] and pooled[2] == serial[2] == []
    for a, b in zip(serial[1], pooled[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_ring_file_is_removed(folder):
    pool = WorkerPool(_context(folder, 1), process_chunk, init_worker, workers=1)
    path = Path(pool.ring.spec.path)
    assert path.exists()
    try:
        _collect(pool.run(iter([_tasks(folder)[:4]])))
    finally:
        pool.close()
    assert not path.exists()


CRASHING_WORKER = textwrap.dedent("""
    import os

    from landmark_fusion.build.work import process_chunk


    def work(chunk, slot=None):
        if any("face_00007" in item for _, item in chunk):
            os._exit(3)  # the process dies as in a native crash: no exception, no result
        return process_chunk(chunk, slot)
""")


def test_a_crashing_item_is_the_only_rejection(folder, tmp_path, monkeypatch):
    (tmp_path / "crashing_worker.py").write_text(CRASHING_WORKER)
    monkeypatch.syspath_prepend(str(tmp_path))  # workers get this process's sys.path
    import crashing_worker

    chunks = iter([_tasks(folder)[k:k + 4] for k in range(0, COUNT, 4)])
    pool = WorkerPool(_context(folder, 2), crashing_worker.work, init_worker, workers=2)
    try:
        ids, images, rejected = _collect(pool.run(chunks))
    finally:
        pool.close()
    # every other face is kept, in order, though its chunk was in flight when the pool broke
    assert ids == [f"afw/face_{i:05d}.jpg" for i in range(COUNT) if i != 7]
    assert [(r.sample_id, r.reason) for r in rejected] == [("afw/face_00007.pts", WORKER_CRASHED)]
    assert "died" in rejected[0].detail
    assert all(image.any() for image in images)


def test_without_a_ring_the_crops_come_through_the_pipe(folder, monkeypatch):
    monkeypatch.setattr(CropRing, "create", classmethod(lambda cls, *args: None))
    serial = _collect(run_tasks(_tasks(folder), _context(folder, 0)))
    pooled = _collect(run_tasks(_tasks(folder), _context(folder, 2)))
    assert pooled[0] == serial[0] and len(pooled[1]) == COUNT
    for a, b in zip(serial[1], pooled[1], strict=True):
        np.testing.assert_array_equal(a, b)
