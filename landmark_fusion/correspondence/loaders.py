"""The vocabulary and schemes of a correspondence folder, loaded once per process.

:func:`load_vocabulary` and :func:`load_scheme` validate a file the first time a process asks for it
and keep the result, keyed by the resolved file path and its stamp (modification time and size):
a build's workers that switch folders (:func:`landmark_fusion.paths.use_correspondences`) or a user
who edits a file get the other data, never a stale copy. A file whose exact bytes passed the checks
in an earlier command is taken from :mod:`.checked_cache` without checking it again.
:func:`validate` is the uncached check of a whole folder, for ``fuse corr validate``.

A build validates its folder once, in the building process, and hands the result to its workers
(:func:`loaded_folder`, :func:`install_loaded`): they use the very files the build started with,
without reading YAML or importing the checks (and pydantic) themselves.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .folder import SCHEMES_DIR, VOCABULARY_FILE, list_schemes, resolved_folder, scheme_path, vocabulary_path
from .problems import CorrespondenceError, Problem
from .scheme import Scheme
from .vocabulary import Vocabulary


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file, so an edited file is reloaded; (0, 0) when absent."""
    try:
        status = path.stat()
    except OSError:
        return 0, 0
    return status.st_mtime_ns, status.st_size


#: Files validated by another process and installed here (:func:`install_loaded`), by path.
_INSTALLED: dict[str, Vocabulary | Scheme] = {}


def load_vocabulary(corr_dir: str | os.PathLike | None = None) -> Vocabulary:
    """The vocabulary of ``corr_dir`` (default: :func:`~landmark_fusion.paths.correspondences_dir`).

    Cached per resolved folder (and file stamp). Raises :class:`CorrespondenceError` when invalid.
    """
    path = vocabulary_path(corr_dir)
    installed = _INSTALLED.get(str(path))
    if isinstance(installed, Vocabulary):
        return installed
    return _load_vocabulary_cached(str(path), _stamp(path))


@functools.lru_cache(maxsize=16)
def _load_vocabulary_cached(path: str, stamp: tuple[int, int]) -> Vocabulary:
    from .checked_cache import cached_vocabulary, store_vocabulary  # (not in a build's workers)

    stored, key = cached_vocabulary(path)
    if stored is not None:
        return stored
    from .vocabulary_checks import check_vocabulary  # pydantic is imported on a first check only

    vocabulary, problems = check_vocabulary(path)
    if problems or vocabulary is None:
        raise CorrespondenceError(problems)
    store_vocabulary(key, vocabulary)
    return vocabulary


def load_scheme(name: str, corr_dir: str | os.PathLike | None = None) -> Scheme:
    """Scheme ``name`` of ``corr_dir``, validated against its vocabulary. Cached per resolved folder.

    Raises ``KeyError`` for an unknown scheme and :class:`CorrespondenceError` when invalid.
    """
    path = scheme_path(name, corr_dir)
    installed = _INSTALLED.get(str(path))
    if isinstance(installed, Scheme):
        return installed
    if not path.is_file():
        known = ", ".join(list_schemes(corr_dir)) or "none"
        raise KeyError(f"unknown scheme {name!r} (known: {known})")
    vocabulary = load_vocabulary(corr_dir)
    return _load_scheme_cached(str(path), _stamp(path), vocabulary)


@functools.lru_cache(maxsize=64)
def _load_scheme_cached(path: str, stamp: tuple[int, int], vocabulary: Vocabulary) -> Scheme:
    from .checked_cache import cached_scheme, store_scheme

    stored, key = cached_scheme(path, vocabulary)
    if stored is not None:
        return stored
    from .scheme_checks import check_scheme

    scheme, problems = check_scheme(path, vocabulary)
    if problems or scheme is None:
        raise CorrespondenceError(problems)
    store_scheme(key, scheme)
    return scheme


def clear_caches() -> None:
    """Forget every loaded (and installed) vocabulary and scheme of this process (the next load
    reads the files)."""
    _INSTALLED.clear()
    _load_vocabulary_cached.cache_clear()
    _load_scheme_cached.cache_clear()


@dataclass(frozen=True)
class LoadedFolder:
    """A correspondence folder's files as one process validated them (:func:`loaded_folder`)."""

    files: dict[str, Vocabulary | Scheme] = field(default_factory=dict)  # by resolved file path
    pid: int = 0  # the process that validated them


def loaded_folder(corr_dir: str | os.PathLike | None = None) -> LoadedFolder:
    """The vocabulary and every scheme of ``corr_dir``, validated (loaded where not yet): what
    :func:`install_loaded` takes in another process (a few tens of KB pickled)."""
    files: dict[str, Vocabulary | Scheme] = {str(vocabulary_path(corr_dir)): load_vocabulary(corr_dir)}
    for name in list_schemes(corr_dir):
        files[str(scheme_path(name, corr_dir))] = load_scheme(name, corr_dir)
    return LoadedFolder(files, os.getpid())


def install_loaded(loaded: LoadedFolder) -> None:
    """Make this process's loaders return the files of ``loaded`` as they were when validated,
    without reading them (until :func:`clear_caches`). Nothing to do in the process that validated
    them: its own caches hold them, and see a file edited later."""
    if loaded.pid == os.getpid():
        return
    _INSTALLED.clear()
    _INSTALLED.update(loaded.files)


def canonical_landmarks(schemes: Iterable[str] | None = None,
                        corr_dir: str | os.PathLike | None = None) -> list[str]:
    """Union of the names kept by ``schemes`` (all schemes by default), in vocabulary order.

    This is the landmark axis ``L`` of the shards.
    """
    names = list_schemes(corr_dir) if schemes is None else list(schemes)
    kept: set[str] = set()
    for name in names:
        kept.update(load_scheme(name, corr_dir).kept_names)
    return load_vocabulary(corr_dir).order(kept)


def validate(corr_dir: str | os.PathLike | None = None) -> list[Problem]:
    """Every problem in the vocabulary and all schemes of ``corr_dir`` (empty when valid).

    Unlike the loaders this never raises and is not cached, so it sees a file as it is on disk now.
    """
    from .scheme_checks import check_scheme
    from .vocabulary_checks import check_vocabulary

    folder = resolved_folder(corr_dir)
    vocabulary, problems = check_vocabulary(folder / VOCABULARY_FILE)
    schemes = list_schemes(folder)
    if not schemes:
        problems.append(Problem(str(folder / SCHEMES_DIR), 0, "no scheme files (*.yaml)"))
    if vocabulary is None:
        return problems
    for name in schemes:
        problems.extend(check_scheme(folder / SCHEMES_DIR / f"{name}.yaml", vocabulary)[1])
    return problems


__all__ = ["LoadedFolder", "canonical_landmarks", "clear_caches", "install_loaded", "load_scheme",
           "load_vocabulary", "loaded_folder", "validate"]
