"""``fuse build``: every database read, each face cropped and unified, one shard output written.

The modules, in the order data flows through them:

- :mod:`.run`: one build, from the roots to the output moved into place (:func:`build_shards`);
- :mod:`.tasks`: the stream of work items over the readers, in chunks;
- :mod:`.engine`: where the work runs, the :class:`Engine` protocol, and the in-process engine;
  :mod:`.pool`: the local process-pool engine (with :mod:`.crop_ring`, shared crop slots);
  :mod:`.ray_engine`: the Ray engine (``--engine ray``, imports Ray only when it runs);
- :mod:`.work`: what is done per work item (read, decode, check, crop, unify), handed to an
  engine as callables; :mod:`.allocator`: the malloc settings of a process doing it;
- :mod:`.context`, :mod:`.settings`, :mod:`.results`: what the parts pass each other;
- :mod:`.report`: the counts and rejections; :mod:`.output`: what a build may replace, its
  temporary names and the final move; :mod:`.resume`: the checkpoints of a Parquet build and
  ``--resume``; :mod:`.grow`: ``--add``, ``--replace``, ``--drop`` on a Parquet set.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Where each public name lives. They are imported on first use, so that a process that needs one
#: module (a pool worker's server imports :mod:`.work` alone) does not load the whole build.
_HOMES = {"Engine": "engine", "InProcessEngine": "engine", "Grow": "grow", "GrowError": "grow",
          "OutputError": "output", "ProcessPoolEngine": "pool", "BuildReport": "report",
          "ResumeError": "resume", "BuildFailed": "run", "build_shards": "run",
          "default_engine": "run", "report_paths": "run", "BuildSettings": "settings"}

if TYPE_CHECKING:
    from .engine import Engine, InProcessEngine
    from .grow import Grow, GrowError
    from .output import OutputError
    from .pool import ProcessPoolEngine
    from .report import BuildReport
    from .resume import ResumeError
    from .run import BuildFailed, build_shards, default_engine, report_paths
    from .settings import BuildSettings


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = ["BuildFailed", "BuildReport", "BuildSettings", "Engine", "Grow", "GrowError",
           "InProcessEngine", "OutputError", "ProcessPoolEngine", "ResumeError", "build_shards",
           "default_engine", "report_paths"]
