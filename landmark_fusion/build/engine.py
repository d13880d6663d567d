"""The seam between a build and where its work runs: the :class:`Engine` protocol.

An engine is handed the chunks of work items, the work to do on a chunk and the initialiser of a
process that does it, all as callables, and yields the chunks' results in order; it never imports
the work. :class:`InProcessEngine` runs everything in the building process (``--workers 0``),
:class:`~.pool.ProcessPoolEngine` in local worker processes, :class:`~.ray_engine.RayEngine` as Ray
tasks on a cluster (imported only when used). An engine may hand a chunk's results back in pieces
(one per item, after a worker crash): the build matches them to the chunk by their item count.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Protocol

from .context import WorkerContext
from .results import ChunkResult
from .tasks import Task

#: ``work(chunk, slot)``: the results of one chunk of tasks. ``slot``: the crop-ring slot the crops
#: go to (``context.ring``), or None to send them with the rows. A module-level function, so that
#: an engine can send it to another process by name.
Work = Callable[[list[Task], "int | None"], ChunkResult]
#: ``init(context)``: prepares a process for the work, once, before its first chunk.
Init = Callable[[WorkerContext], None]


class Engine(Protocol):
    """Runs the work of a build somewhere (this process, a local pool, other machines)."""

    def run(self, chunks: Iterable[list[Task]], work: Work, init: Init, context: WorkerContext
            ) -> Generator[ChunkResult, None, None]:
        """The result of every chunk, in the order of ``chunks``.

        Every process that runs ``work`` runs ``init(context)`` first. A result's
        ``rows["images"]`` may be a view of shared memory that stays valid only until the next
        result is asked for: the caller writes (or copies) it first. Closing the generator stops
        the work not yet done and releases every process and resource of the engine at once (the
        build closes it when it stops early: ``--strict``, Ctrl-C, SIGTERM).
        """
        ...


class InProcessEngine:
    """Every chunk in the building process, one after another (``--workers 0``)."""

    def run(self, chunks: Iterable[list[Task]], work: Work, init: Init, context: WorkerContext
            ) -> Generator[ChunkResult, None, None]:
        init(context)
        for chunk in chunks:
            yield work(chunk, None)
