"""The local engine of a build: a process pool, shared crop slots, crash isolation.

:class:`ProcessPoolEngine` is the :class:`~.engine.Engine` of ``--workers N``. It is handed the work
and its initialiser as callables (:mod:`.work` provides them; this module never imports it), and
chunks of work items go to a pool of ``forkserver`` workers with a bounded number in flight, and
their results come back in order. Each chunk in flight owns a slot of a :class:`~.crop_ring.CropRing`
where its worker leaves the crops, so only the small fields travel through the pool's pipe. When a
worker process dies (a crash in a native decoder, the out-of-memory killer), the pool breaks and
every chunk in flight fails with it: those chunks are run again one at a time in a fresh pool, and
the items of a chunk that still kills its worker one at a time, so that only the item that crashes
is rejected (``worker_crashed``) and everything else is kept.

The workers never outlive the build: each one ends when the building process ends, even by SIGKILL
(:func:`~landmark_fusion.lifetime.end_with`), and a pool closed with work still in flight
(``--strict``, Ctrl-C, SIGTERM) cancels the chunks not started and terminates a worker that does
not finish its chunk within seconds.
"""
from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from ..lifetime import signals_deferred
from .context import WorkerContext
from .crop_ring import CropRing
from .engine import Init, Work
from .forkserver import start_method_context, start_server
from .results import ChunkResult, crashed_chunk, failed_chunk
from .tasks import Task

#: Crops a ring slot holds per item of a chunk; a chunk with more faces sends them through the pipe.
RING_ROWS_PER_ITEM = 2


class WorkerPool:
    """A pool of build workers and the crop ring they share (see the module docstring)."""

    def __init__(self, context: WorkerContext, work: Work, init: Init, workers: int,
                 preload: Sequence[str] = ()) -> None:
        """``work(chunk, slot)`` runs in the workers, each prepared by ``init(context)`` first
        (module-level functions: they are pickled). ``preload``: modules the forkserver imports
        once for every worker, besides those of ``work`` and ``init``."""
        settings = context.settings
        # forkserver: workers fork from a clean server process, never from this one, whose
        # native libraries (OpenCV, HDF5, torch thread pools) may hold locks that a plain fork
        # would copy in a locked state and deadlock on. The server pre-imports the workers'
        # modules once (it lives as long as this process: later builds reuse it and its first
        # preload list).
        self._mp = start_method_context([work.__module__, init.__module__, *preload])
        self.workers = workers
        self._work = work
        self._init = init
        self.limit = 2 * workers + 2  # chunks in flight
        self._pending = 0  # chunks submitted and not yet handed back
        self._closed = False
        self.ring: CropRing | None = None
        try:
            self.ring = CropRing.create(self.limit, settings.chunk_items * RING_ROWS_PER_ITEM,
                                        settings.crop_size)
            # without a ring (no folder with room for it) the crops travel through the pipe
            self._context = replace(context, ring=self.ring.spec if self.ring is not None else None,
                                    builder_pid=os.getpid())
            self._free_slots = list(range(self.limit)) if self.ring is not None else []
            self._pool = self._new_pool()
        except BaseException:  # e.g. SIGTERM right now: the ring file must not stay behind
            if self.ring is not None:
                self.ring.close()
            raise

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._mp, initializer=self._init,
                                   initargs=(self._context,))

    def _submit(self, chunk: list[Task], slot: int | None) -> Future:
        """The chunk's future; a pool already broken gives a future holding that error."""
        try:
            if len(getattr(self._pool, "_processes", None) or ()) < self.workers:
                # this submit may start a worker: a signal in the middle of that would leave a
                # half-started process (the forkserver prints its EOFError) that shutdown waits on
                with signals_deferred():
                    return self._pool.submit(self._work, chunk, slot)
            return self._pool.submit(self._work, chunk, slot)
        except BrokenProcessPool as error:
            failed: Future = Future()
            failed.set_exception(error)
            return failed

    def _restart(self) -> None:
        """A fresh pool after a worker died. It sends crops through the pipe from now on: a
        worker of the broken pool may not be gone yet and could still write into a slot."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._context = replace(self._context, ring=None)
        self._free_slots.clear()
        self._pool = self._new_pool()

    def _attach_images(self, result: ChunkResult) -> ChunkResult:
        if result.image_slot is not None and result.rows is not None:
            if self.ring is None:
                raise RuntimeError("a chunk's crops lie in a crop ring that this pool no longer has")
            count = len(result.rows["source"])
            result.rows["images"] = self.ring.slot(result.image_slot)[:count]
        return result

    def _alone(self, chunk: list[Task]) -> ChunkResult | None:
        """Run one chunk with nothing else in flight; None if its worker died (pool restarted)."""
        try:
            return self._submit(chunk, None).result()
        except BrokenProcessPool:
            self._restart()
            return None
        except Exception as error:  # noqa: BLE001 - e.g. a result that does not pickle
            return failed_chunk(chunk, error)

    def _isolate(self, chunk: list[Task]) -> Iterator[ChunkResult]:
        """Results of a chunk that was in flight when a worker died: whole if it runs alone,
        else item by item, an item that kills its worker again rejected as ``worker_crashed``."""
        result = self._alone(chunk)
        if result is not None:
            yield result
            return
        for task in chunk:
            result = self._alone([task])
            yield result if result is not None else crashed_chunk([task])

    def run(self, chunks: Iterable[list[Task]]) -> Iterator[ChunkResult]:
        """Results of every chunk, in order (see :meth:`.engine.Engine.run`)."""
        chunks = iter(chunks)
        in_flight: deque = deque()  # (future, chunk, slot)
        while True:
            while len(in_flight) < self.limit:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                slot = self._free_slots.pop() if self._free_slots else None
                in_flight.append((self._submit(chunk, slot), chunk, slot))
            self._pending = len(in_flight)
            if not in_flight:
                return
            future, chunk, slot = in_flight.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                # Every chunk in flight failed with the pool, whichever killed its worker: run
                # them again one at a time, in order, in a fresh pool.
                suspects = [chunk] + [c for _, c, _ in in_flight]
                in_flight.clear()
                self._restart()
                for suspect in suspects:
                    yield from self._isolate(suspect)
                continue
            except Exception as error:  # noqa: BLE001 - e.g. a result that does not pickle
                result = failed_chunk(chunk, error)
            yield self._attach_images(result)
            if slot is not None and self._context.ring is not None:
                self._free_slots.append(slot)  # the caller is done with this chunk's crops

    def _stop(self, grace: float = 10.0) -> None:
        """Stop the workers while chunks are still in flight (their results are not wanted): the
        chunks not started are cancelled, the running ones may finish within ``grace`` seconds
        (under a second, normally), and a worker still busy then (a hung decoder) is terminated.
        Killing the workers at once would break the pool, after which the interpreter's exit
        handler of ``concurrent.futures`` writes to a closed pipe (Python 3.11)."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(5.0)

    def close(self) -> None:
        """Shut the pool down (terminating the workers when chunks are still in flight) and
        remove the ring. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending:
                self._stop()
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if self.ring is not None:
                self.ring.close()


class ProcessPoolEngine:
    """The :class:`~.engine.Engine` of a local pool of ``workers`` processes, at most
    ``2·workers + 2`` chunks in flight. ``preload``: modules every worker starts with (imported
    once in the pool's server, see :class:`WorkerPool`)."""

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ValueError(f"a process pool needs at least one worker, not {workers}")
        self.workers = workers
        self.preload = tuple(preload)

    def start(self, work: Work, init: Init) -> None:
        """Start the pool's server early (:func:`~.forkserver.start_server`: its imports run beside
        the building process's own start); :meth:`run` works without it."""
        start_server([work.__module__, init.__module__, *self.preload])

    def run(self, chunks: Iterable[list[Task]], work: Work, init: Init, context: WorkerContext
            ) -> Generator[ChunkResult, None, None]:
        pool = None
        try:
            pool = WorkerPool(context, work, init, self.workers, self.preload)
            yield from pool.run(chunks)
        finally:
            if pool is not None:
                pool.close()
