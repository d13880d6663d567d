"""The server the local engine's workers fork from, and how to start it early.

A module without NumPy or the build's own modules, so that ``fuse build`` can start the server
before it loads them itself (:func:`start_server`): the server's imports (a new interpreter, NumPy,
OpenCV, the per-face work) then run beside the building process's own start (its imports, the roots
file, the correspondence files, the output's creation) instead of after it.
"""
from __future__ import annotations

import ast
import multiprocessing
import sys
from collections.abc import Sequence

#: What every build worker needs first: the per-face work (``build.work``, which imports the
#: checks, unification, cropping and decoding it uses) and OpenCV (imported inside its functions).
WORK_MODULES = ("landmark_fusion.build.work", "cv2")
#: The loop every worker of a ``ProcessPoolExecutor`` runs, and what it unpickles its queues with.
POOL_MODULES = ("concurrent.futures.process", "multiprocessing.synchronize", "multiprocessing.popen_forkserver")


def main_imports() -> list[str]:
    """The modules the main script imports at its top level (``import X``, ``from X import y``),
    of those this process has loaded. A forkserver's worker runs the main script again before its
    first task (as ``__mp_main__``): Python's server has never imported it for them even when told
    to (``"__main__"`` in the preload list; CPython issue gh-126631, fixed after 3.13), so for
    ``fuse`` each worker would import the whole command line (click, both stages' commands) on its
    start. With these modules preloaded the script's run finds them loaded."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path:
        return []
    try:
        with open(path, "rb") as file:
            tree = ast.parse(file.read(), path)
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [name for name in dict.fromkeys(names) if name in sys.modules]


def start_method_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of the build workers: ``forkserver`` (its server told to import
    ``preload``; the list takes effect only when the server is first started) where the platform
    has it, else ``spawn``. The server also imports the pool's worker loop and what the main script
    imports (:func:`main_imports`), once for all workers, and is asked for the main module itself
    (``"__main__"``, which Pythons with gh-126631 fixed import)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(dict.fromkeys(["__main__", *main_imports(), *POOL_MODULES,
                                                       *preload])))
    return context


def start_server(preload: Sequence[str] = WORK_MODULES) -> None:
    """Start the forkserver now, without waiting for it, told to import ``preload``. Nothing to do
    where the workers are spawned, or when the server already runs (its first list stays)."""
    context = start_method_context(preload)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
