"""The Ray engine of a build (``--engine ray``): the same per-chunk work as Ray tasks on a cluster.

:class:`RayEngine` is one more :class:`~.engine.Engine`. The building process (the Ray *driver*)
lists the work items, as always, and submits one Ray task per chunk, at most ``in_flight`` at a time
(back-pressure: the next chunk is submitted only when the oldest result has been written), so memory
on the driver and in the object store stays bounded whatever the number of faces. The tasks run
:mod:`.work`'s functions in Ray's worker processes, on any node: each process is prepared once by the
work's initialiser, with the build's correspondence files shipped to it (written to a temporary
folder of its node: the YAMLs do not have to be installed there), and reads the images itself from
the databases' paths, which must be the same on every node (shared storage). A chunk's crops come
back as one contiguous uint8 array and its strings as fixed-width NumPy arrays, so Ray's serialiser
hands them over through its shared-memory object store without pickling anything per row.

A worker that dies (a crash in a native library, the out-of-memory killer) fails its task: the chunk
is run again one item per task, and an item that kills its worker again is rejected
(``worker_crashed``), as with the local pool. Closing the engine's generator (the end, ``--strict``,
Ctrl-C, SIGTERM) cancels every task in flight; a Ray instance the engine started itself (no
``address``) is shut down with it, which ends its processes. Ray is imported only here, and only
when the engine runs (``pip install 'landmark-fusion[ray]'``).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Generator, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..lifetime import TERMINATING, signals_deferred
from ..shards.schema import STRING_FIELDS
from .context import WorkerContext
from .engine import Init, Work
from .results import ChunkResult, crashed_chunk, failed_chunk
from .tasks import Task


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says what to do."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--engine ray needs Ray: pip install 'landmark-fusion[ray]' "
                             "(or pip install ray)") from None
    return ray


# ----------------------------------------------------------------------------- in the Ray workers

#: Correspondence files of the build (relative path -> bytes), what a worker writes for itself.
CorrFiles = dict[str, bytes]
_PREPARED: str | None = None  # the token of the build this worker process is prepared for


def correspondence_files(folder: str | None) -> CorrFiles:
    """Every YAML of the build's correspondence folder (small: tens of kilobytes)."""
    if folder is None:
        return {}
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.yaml"))
            if p.is_file()}


def _materialise(files: CorrFiles, token: str) -> str:
    """The correspondence files in a folder of this worker's node (removed when it exits)."""
    folder = Path(tempfile.mkdtemp(prefix=f"landmark-fusion-corr-{token[:12]}-"))
    atexit.register(shutil.rmtree, folder, True)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(folder)


def pack(result: ChunkResult) -> ChunkResult:
    """A result whose arrays travel as buffers: the string columns as fixed-width unicode."""
    if result.rows is not None:
        for name in STRING_FIELDS:
            result.rows[name] = np.asarray(result.rows[name], dtype=str)
        result.rows["images"] = np.ascontiguousarray(result.rows["images"])
    return result


def unpack(result: ChunkResult) -> ChunkResult:
    """The result as the build expects it (string columns as object arrays, writable)."""
    if result.rows is not None:
        for name in STRING_FIELDS:
            result.rows[name] = result.rows[name].astype(object)
    return result


def run_chunk(work: Work, init: Init, context: WorkerContext, files: CorrFiles, token: str,
              chunk: list[Task]) -> ChunkResult:
    """A Ray task: prepare this worker process once for the build ``token``, then do one chunk."""
    global _PREPARED
    if _PREPARED != token:
        corr_dir = _materialise(files, token) if files else context.corr_dir
        init(replace(context, corr_dir=corr_dir, ring=None, builder_pid=None))
        _PREPARED = token
    return pack(work(chunk, None))


# ----------------------------------------------------------------------------- in the driver

def _python_handlers() -> dict[int, Any]:
    """The Python handlers of the signals a build turns into KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.getsignal(number) for number in (signal.SIGINT, *TERMINATING)}


def _restore_handlers(handlers: dict[int, Any]) -> None:
    """Install ``handlers`` again: Ray's driver puts its own (native) handler on SIGTERM, which
    logs and ends the process on the spot, without the build's clean-up."""
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)


class RayEngine:
    """The :class:`~.engine.Engine` of a Ray cluster (see the module docstring).

    ``address``: the cluster (``ray://HOST:10001`` or ``HOST:6379``, or ``auto``); None starts a
    local Ray of ``workers`` CPUs for this build. ``workers``: tasks that run at once (default: the
    cluster's CPUs); ``in_flight``: tasks submitted and not yet written (default ``2·workers + 2``).
    ``init_options``: more keyword arguments of ``ray.init``.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 in_flight: int | None = None, init_options: dict[str, Any] | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"a Ray build needs at least one worker, not {workers}")
        self.address = address
        self.workers = workers
        self.in_flight = in_flight
        self.init_options = dict(init_options or {})
        self.started_seconds = 0.0  # time ray.init took (the engine's fixed cost)

    def _connect(self, ray) -> bool:
        """Connect to (or start) Ray; True when this engine started it (and shuts it down)."""
        if ray.is_initialized():
            return False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning",
                   **self.init_options}
        started = time.perf_counter()
        handlers = _python_handlers()
        try:
            with signals_deferred():  # a signal now would leave a half-started Ray behind
                if self.address is None:
                    ray.init(num_cpus=self.workers or os.cpu_count() or 1, **options)
                else:
                    ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = self.address or "a new local instance"
            raise RayUnavailable(f"cannot start or reach Ray at {where}: {error}") from None
        finally:
            _restore_handlers(handlers)
        self.started_seconds = time.perf_counter() - started
        return True

    def run(self, chunks: Iterable[list[Task]], work: Work, init: Init, context: WorkerContext
            ) -> Generator[ChunkResult, None, None]:
        ray = import_ray()
        started_here = self._connect(ray)
        refs: deque = deque()  # (object ref, chunk), oldest first
        try:
            workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            limit = self.in_flight or 2 * workers + 2
            files = correspondence_files(context.corr_dir)
            token = uuid.uuid4().hex  # this run: a worker of an earlier build prepares again
            task = ray.remote(num_cpus=1, max_retries=0)(run_chunk)
            shared = (ray.put(work), ray.put(init), ray.put(replace(context, ring=None,
                                                                    builder_pid=None)),
                      ray.put(files), token)
            chunks = iter(chunks)
            while True:
                while len(refs) < limit:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    refs.append((task.remote(*shared, chunk), chunk))
                if not refs:
                    return
                ref, chunk = refs.popleft()
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the work raised (e.g. pickling)
                    result = failed_chunk(chunk, error.cause if error.cause else error)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError):
                    yield from self._isolate(ray, task, shared, chunk)
                    continue
                yield unpack(result)
        finally:
            for ref, _ in refs:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - a finished or lost task: nothing to cancel
                    pass
            refs.clear()
            if started_here:
                ray.shutdown()

    @staticmethod
    def _isolate(ray, task, shared, chunk: list[Task]) -> Iterable[ChunkResult]:
        """A chunk whose worker died, again one item per task; an item that kills its worker
        again is rejected as ``worker_crashed``."""
        for item in chunk:
            try:
                yield unpack(ray.get(task.remote(*shared, [item])))
            except ray.exceptions.RayTaskError as error:
                yield failed_chunk([item], error.cause if error.cause else error)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError):
                yield crashed_chunk([item])


__all__ = ["RayEngine", "RayUnavailable", "correspondence_files", "run_chunk"]
