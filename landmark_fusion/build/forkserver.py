"""The server the local engine's workers fork from, and how to start it early.

A module without NumPy or the build's own modules, so that ``fuse build`` can start the server
before it loads them itself (:func:`start_server`): the server's imports (a new interpreter, NumPy,
OpenCV, the per-face work) then run beside the building process's own start (its imports, the roots
file, the correspondence files, the output's creation) instead of after it.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Sequence

#: What every build worker needs first: the per-face work (``build.work``, which imports the
#: checks, unification, cropping and decoding it uses) and OpenCV (imported inside its functions).
WORK_MODULES = ("landmark_fusion.build.work", "cv2")


def start_method_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of the build workers: ``forkserver`` (its server told to import
    ``preload``; the list takes effect only when the server is first started) where the platform
    has it, else ``spawn``. The server also imports the main module (as every spawned child would,
    guarded by ``if __name__ == "__main__"``), once for all workers: for ``fuse`` that is the
    command line's modules, which each worker otherwise imported again on its start."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(dict.fromkeys(["__main__", *preload])))
    return context


def start_server(preload: Sequence[str] = WORK_MODULES) -> None:
    """Start the forkserver now, without waiting for it, told to import ``preload``. Nothing to do
    where the workers are spawned, or when the server already runs (its first list stays)."""
    context = start_method_context(preload)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
