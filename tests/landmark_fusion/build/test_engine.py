"""The engine seam: a build runs its work through whatever engine it is given, with one result."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from landmark_fusion.build import BuildSettings, InProcessEngine, ProcessPoolEngine, build_shards, default_engine, work
from landmark_fusion.roots import Root

ROOTS = {"300w": "300W", "aflw2000_3d": "AFLW2000-3D", "facewarehouse": "FaceWarehouse"}


class RecordingEngine:
    """An engine of its own: runs the chunks in this process and notes what it was handed."""

    def __init__(self) -> None:
        self.inits = 0
        self.chunks: list[int] = []
        self.closed = False

    def run(self, chunks, work, init, context):
        self.inits += 1
        init(context)
        try:
            for chunk in chunks:
                self.chunks.append(len(chunk))
                yield work(chunk, None)
        finally:
            self.closed = True


def _arrays(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as handle:
        return {key: handle[key][()] for key in handle}


def test_any_engine_plugs_in_and_the_shards_are_the_same(tmp_path, samples_dir):
    roots = [Root(name, samples_dir / folder) for name, folder in ROOTS.items()]
    settings = BuildSettings(progress=False, chunk_items=2)
    engine = RecordingEngine()
    report = build_shards(roots, tmp_path / "custom.h5", settings, engine=engine)
    assert engine.inits == 1 and engine.closed and max(engine.chunks) == 2
    assert sum(engine.chunks) == sum(report.items.values())
    pooled = build_shards(roots, tmp_path / "pool.h5", settings, engine=ProcessPoolEngine(2))
    in_process = build_shards(roots, tmp_path / "default.h5", settings)
    assert report.total_kept == pooled.total_kept == in_process.total_kept > 0
    custom, pool, default = (_arrays(tmp_path / f"{name}.h5") for name in ("custom", "pool", "default"))
    assert custom.keys() == pool.keys() == default.keys()
    for key in default:
        np.testing.assert_array_equal(custom[key], default[key])
        np.testing.assert_array_equal(pool[key], default[key])


def test_the_default_engine_follows_the_workers_setting(samples_dir):
    roots = [Root("300w", samples_dir / "300W")]
    assert isinstance(default_engine(BuildSettings(workers=0), roots), InProcessEngine)
    pool = default_engine(BuildSettings(workers=3), roots)
    assert isinstance(pool, ProcessPoolEngine) and pool.workers == 3
    assert work.__name__ in pool.preload and "landmark_fusion.sources.w300" in pool.preload
    with pytest.raises(ValueError, match="at least one worker"):
        ProcessPoolEngine(0)
