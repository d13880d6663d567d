"""Where the correspondence data (vocabulary, schemes, model tables) is read from.

:func:`correspondences_dir` is the one place that decides it. A build chooses the folder once
(``--corr-dir``, else this order) and makes it the folder of its own process and of every worker
(:func:`using_correspondences`), so that a reader, ``unify`` and the report all see the same files
even when ``$LANDMARK_FUSION_CORRESPONDENCES`` changes meanwhile.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import correspondences

ENV_VAR = "LANDMARK_FUSION_CORRESPONDENCES"

_chosen: Path | None = None  # set by using_correspondences / use_correspondences


def installed_correspondences() -> Path:
    """The copy installed with the package (never modified by a command)."""
    return Path(correspondences.__file__).resolve().parent


def correspondences_dir(override: str | os.PathLike | None = None) -> Path:
    """The folder holding ``landmarks.yaml``, ``schemes/`` and ``models/``.

    Order: an explicit ``override`` (``--corr-dir``), then the folder a running build chose for
    this process, then ``$LANDMARK_FUSION_CORRESPONDENCES`` (a user's edited copy), then the copy
    installed with the package.
    """
    if override is not None:
        return Path(override)
    if _chosen is not None:
        return _chosen
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return installed_correspondences()


def use_correspondences(folder: str | os.PathLike | None) -> None:
    """Make ``folder`` this process's correspondence folder (None: back to the usual order)."""
    global _chosen
    _chosen = None if folder is None else Path(folder)


@contextmanager
def using_correspondences(folder: str | os.PathLike) -> Iterator[Path]:
    """``folder`` is this process's correspondence folder within the block."""
    previous = _chosen
    use_correspondences(folder)
    try:
        yield Path(folder)
    finally:
        use_correspondences(previous)


def is_installed_copy(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is (inside) the installed correspondence data."""
    installed = installed_correspondences()
    resolved = Path(folder).resolve()
    return resolved == installed or installed in resolved.parents
